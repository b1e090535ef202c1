"""The catalog: Mux-style direct uploads, assets and the event log, kept in Redis.

``models.py`` holds the typed records and their transition tables, ``schema.py`` how Redis stores them,
``wire.py`` how the Mux and Livepeer APIs show them; ``uploads.py`` and ``assets.py`` are the stores and
lifecycles, ``masters.py`` master access. Shared by the gateway (which creates uploads and assets) and the
worker (which fills assets in).
"""
