"""The memory budget over every agent process tree (ADR 0015): sampling, eviction, admission, exposition."""
