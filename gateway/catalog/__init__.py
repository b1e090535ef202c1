"""The catalog: Mux-style direct uploads, assets and the event log, kept in Redis.

Shared by the gateway (which creates uploads and assets) and the worker (which fills assets in).
"""
