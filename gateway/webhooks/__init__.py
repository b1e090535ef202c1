"""Mux-style signed webhooks, delivered at least once.

    event log (<p>:events) --relay (consumer group)--> deliveries (<p>:{webhooks}:*) --sender--> POST

The relay and the sender run in every worker process (runner.py); the gateway only serves the
delivery log (api.py). See store.py for the keys, schedule.py for the retry schedule, signature.py for
``Mux-Signature`` and envelope.py for the body.
"""
