"""hearth as an MCP server: the same use cases as the HTTP API, as tools (``tools.py``), served over streamable
HTTP at ``/mcp`` by the running service and over stdio by ``hearth mcp`` (``server.py``)."""
