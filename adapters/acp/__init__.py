"""ACP agents (qwen, Claude Code, gemini, OpenCode over ACP, any configured ACP command) as hearth backends."""
