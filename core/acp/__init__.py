"""ACP ``session/update`` notifications folded into AgentEvents (pure)."""
