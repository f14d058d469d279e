"""hearth's version: what `hearth --version` and ``/api/health`` report (kept equal to pyproject.toml's by a test)."""

VERSION = "0.2.0"
