"""hearth's own agent: a tool loop over an OpenAI-compatible endpoint, files confined to the worktree."""
