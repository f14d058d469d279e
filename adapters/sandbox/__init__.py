"""Running agents' commands inside a bubblewrap sandbox confined to the chat's worktree."""
