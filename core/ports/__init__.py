"""The ports: Protocols the adapters implement and the app drives, one module per concern.

Adapters implement them structurally (no inheritance). Expected failures come back as ``Result[..., DomainError]``;
an exception from an adapter means infrastructure broke (disk, network, database gone).
"""
