"""What keeps a node healthy between turns: periodic jobs, chat leases, startup recovery, worktree reaping."""
