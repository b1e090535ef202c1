"""The retry schedule and the envelope, as pure functions."""

from __future__ import annotations

from gateway.settings import WebhookSettings
from gateway.webhooks.envelope import Event, envelope, unix_seconds, webhook_data
from workers.webhooks.schedule import Schedule


def simulate(schedule: Schedule) -> int:
    """Attempts of an always-failing delivery, counted one by one."""
    now, attempts, deadline = 0.0, 1, schedule.max_age
    while (at := schedule.next_at(attempts, now, deadline)) is not None:
        now, attempts = at, attempts + 1
    return attempts


def test_delays_double_from_first_retry_up_to_the_cap() -> None:
    schedule = Schedule(first_retry=5, max_retry_delay=60, max_age=86400)
    assert [schedule.delay(n) for n in range(1, 8)] == [5, 10, 20, 40, 60, 60, 60]
    assert schedule.delay(10_000) == 60


def test_retries_stop_at_max_age_with_a_last_attempt_at_the_deadline() -> None:
    schedule = Schedule(first_retry=1, max_retry_delay=8, max_age=20)
    assert schedule.next_at(1, now=0, deadline=20) == 1
    assert schedule.next_at(4, now=15, deadline=20) == 20       # 15 + 8 is past the deadline
    assert schedule.next_at(5, now=20, deadline=20) is None
    assert schedule.next_at(1, now=25, deadline=20) is None


def test_max_attempts_matches_the_schedule() -> None:
    for schedule in [Schedule.of(WebhookSettings()), Schedule(1, 8, 20), Schedule(0.5, 0.5, 3),
                     Schedule(3, 100, 2), Schedule(0.5, 4, 30)]:
        assert schedule.max_attempts() == simulate(schedule), schedule
    assert Schedule.of(WebhookSettings()).max_attempts() == 34     # 5 s doubling to 1 h, for 24 h


def test_data_created_at_becomes_unix_seconds() -> None:
    assert unix_seconds("1735689600") == 1735689600
    assert unix_seconds("2025-01-01T00:00:00.000000Z") == 1735689600
    assert unix_seconds(1735689600.7) == 1735689600
    assert unix_seconds("soon") == "soon" and unix_seconds(None) is None
    assert webhook_data({"id": "a", "created_at": "1735689600"}) == {"id": "a", "created_at": 1735689600}
    assert webhook_data({"id": "u"}) == {"id": "u"}


def test_envelope_has_the_mux_shape() -> None:
    event = Event.from_fields({b"id": b"e1", b"type": b"video.asset.ready", b"object_type": b"asset",
                               b"object_id": b"a1", b"created_at": b"2025-01-01T00:00:05.000000Z",
                               b"data": b'{"id":"a1","created_at":"1735689600","status":"ready"}'})
    assert Event.from_json(event.to_json()) == event
    body = envelope(event, environment={"name": "Production", "id": "env"}, attempts=[])
    assert body == {
        "type": "video.asset.ready", "id": "e1", "created_at": "2025-01-01T00:00:05.000000Z",
        "object": {"type": "asset", "id": "a1"}, "environment": {"name": "Production", "id": "env"},
        "data": {"id": "a1", "created_at": 1735689600, "status": "ready"}, "attempts": [],
        "accessor_source": None, "accessor": None, "request_id": None,
    }
