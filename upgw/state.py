"""Resume state: which direct upload a local file is going to, so a second run continues it.

One JSON file per (gateway URL, file path, length, mtime) in the state directory (default
``~/.cache/upgw``), named by the SHA-256 of that identity and written atomically::

    {"file": "/abs/path.mp4", "length": 20971520, "mtime_ns": ..., "base_url": "http://127.0.0.1:8080",
     "upload_id": "<direct upload id>", "upload_url": ".../files/<capability>",
     "tus_endpoint": ".../files/<capability>/tus", "created_at": 1700000000.0}

A changed file (other length or mtime) gets a new identity and therefore a new upload. The record is
written before the first byte is sent and removed when the run ends with a final answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileIdentity:
    file: str
    length: int
    mtime_ns: int
    base_url: str

    @classmethod
    def of(cls, path: Path, base_url: str) -> FileIdentity:
        stat = path.stat()
        return cls(str(path.resolve()), stat.st_size, stat.st_mtime_ns, base_url.rstrip("/"))

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ResumeRecord:
    identity: FileIdentity
    upload_id: str
    upload_url: str
    tus_endpoint: str
    created_at: float

    def to_json(self) -> str:
        return json.dumps({**asdict(self.identity), "upload_id": self.upload_id, "upload_url": self.upload_url,
                           "tus_endpoint": self.tus_endpoint, "created_at": self.created_at}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ResumeRecord:
        raw = json.loads(text)
        identity = FileIdentity(str(raw["file"]), int(raw["length"]), int(raw["mtime_ns"]), str(raw["base_url"]))
        return cls(identity, str(raw["upload_id"]), str(raw["upload_url"]), str(raw["tus_endpoint"]),
                   float(raw["created_at"]))


class StateStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory.expanduser()

    def path(self, identity: FileIdentity) -> Path:
        return self.directory / f"{identity.key}.json"

    def load(self, identity: FileIdentity) -> ResumeRecord | None:
        try:
            record = ResumeRecord.from_json(self.path(identity).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None   # unreadable or from another version: start over
        return record if record.identity == identity else None

    def save(self, identity: FileIdentity, upload: dict[str, object]) -> ResumeRecord:
        record = ResumeRecord(identity, str(upload["id"]), str(upload["url"]), str(upload["tus_endpoint"]),
                              time.time())
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(record.to_json())
            os.replace(tmp, self.path(identity))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return record

    def forget(self, identity: FileIdentity) -> None:
        self.path(identity).unlink(missing_ok=True)
