"""Mux-style signed webhooks, delivered at least once, by every worker process.

    event log (<p>:events) --relay (consumer group)--> deliveries (<p>:{webhooks}:*) --sender--> POST

``runner.py`` starts the relay and the sender; ``schedule.py`` is the retry schedule, ``signature.py``
``Mux-Signature``. The delivery records and the event shape live with the gateway, which serves the
delivery log (``gateway/webhooks/store.py``, ``envelope.py``, ``api.py``).
"""
