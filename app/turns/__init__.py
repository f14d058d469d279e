"""Queued turns claimed, run end to end, journaled and streamed."""
