"""What hearth does for its callers (the HTTP API, the CLI, later the console and MCP), one small class per area,
each constructed with only the ports it needs. A use case returns plain values and raises ``Refused`` (see
``app.usecases.errors``) for every expected refusal; the edges translate, nothing else."""
