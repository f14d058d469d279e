"""The OpenCode server backend: ``opencode serve`` spawned, supervised and driven over HTTP + SSE."""
