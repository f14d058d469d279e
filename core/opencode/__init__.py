"""OpenCode's ``opencode serve`` events folded into AgentEvents (pure)."""
