"""Webhook deliveries as the gateway sees them: the records (``store.py``), the event shape
(``envelope.py``) and ``GET /video/v1/webhook-deliveries`` (``api.py``). The relay and the sender that
make deliveries run in the workers (``workers/webhooks/``).
"""
