"""The webhook body: an event from the event log wrapped in Mux's envelope.

    {type, id, created_at, object: {type, id}, environment: {name, id}, data, attempts,
     accessor_source: null, accessor: null, request_id: null}

``data`` is the object as the REST API shows it, except that ``created_at`` is an integer (Unix
seconds) in webhooks, as Mux sends it, where the REST API gives a string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Event:
    """One entry of ``<prefix>:events`` (see gateway/catalog/events.py)."""

    id: str
    type: str
    object_type: str
    object_id: str
    created_at: str
    data: dict[str, Any]

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes] | dict[str, str]) -> Event:
        text = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                for k, v in fields.items()}
        data = json.loads(text.get("data") or "{}")
        return cls(id=text["id"], type=text["type"], object_type=text.get("object_type", ""),
                   object_id=text.get("object_id", ""), created_at=text.get("created_at", ""),
                   data=data if isinstance(data, dict) else {"value": data})

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "type": self.type, "object_type": self.object_type,
                           "object_id": self.object_id, "created_at": self.created_at, "data": self.data},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        value = json.loads(text)
        return cls(id=value["id"], type=value["type"], object_type=value["object_type"],
                   object_id=value["object_id"], created_at=value["created_at"], data=value["data"])


def unix_seconds(value: Any) -> Any:
    """``"1735689600"`` or an ISO-8601 time as integer Unix seconds; anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    if isinstance(value, int | float):
        return int(value)
    try:
        return int(float(value))
    except ValueError:
        pass
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return value


def webhook_data(data: dict[str, Any]) -> dict[str, Any]:
    if "created_at" not in data:
        return data
    return {**data, "created_at": unix_seconds(data["created_at"])}


def envelope(event: Event, *, environment: dict[str, str], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": event.type,
        "id": event.id,
        "created_at": event.created_at,
        "object": {"type": event.object_type, "id": event.object_id},
        "environment": environment,
        "data": webhook_data(event.data),
        "attempts": attempts,
        "accessor_source": None,
        "accessor": None,
        "request_id": None,
    }


def body(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
