"""The key map: every Redis key name, pinned byte for byte (data written by earlier versions must stay
readable), each upload's keys in one Cluster slot, and the worker wired without the web application."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from redis.crc import key_slot

from gateway.state.keys import Keys

ROOT = Path(__file__).resolve().parents[2]


def test_every_key_name_is_what_existing_data_uses() -> None:
    k = Keys("upgw")
    assert [k.upload("X"), k.parts("X"), k.segments("X"), k.lock("X"), k.release("X"), k.finals("X"),
            k.tombstone("X"), k.expiry] == [
        "upgw:{X}:u", "upgw:{X}:parts", "upgw:{X}:segs", "upgw:{X}:lock", "upgw:{X}:release", "upgw:{X}:finals",
        "upgw:{X}:tomb", "upgw:expiry"]
    assert [k.record("upload", "X"), k.records("upload"), k.waiting_uploads, k.completing_uploads] == [
        "upgw:{X}:upload", "upgw:uploads", "upgw:uploads:waiting", "upgw:uploads:completing"]
    assert [k.record("asset", "X"), k.records("asset"), k.livepeer("X")] == [
        "upgw:{X}:asset", "upgw:assets", "upgw:{X}:livepeer"]
    assert [k.events, k.emitted("X"), k.master_expiry, k.job_timings] == [
        "upgw:events", "upgw:{X}:emitted", "upgw:masters:expiry", "upgw:metrics:jobs"]
    assert [k.webhooks_due, k.delivery("E:1"), k.delivery_attempts("E:1"), k.delivery_log] == [
        "upgw:{webhooks}:due", "upgw:{webhooks}:d:E:1", "upgw:{webhooks}:a:E:1", "upgw:{webhooks}:log"]
    assert [k.queue, k.pending_assets] == ["upgw-assets", "upgw-assets:pending"]


def test_the_keys_of_one_upload_share_a_slot() -> None:
    k = Keys("p")
    keys = [*k.all_of("abc"), k.lock("abc"), k.tombstone("abc")]
    assert len({key_slot(name.encode()) for name in keys}) == 1
    webhooks = [k.webhooks_due, k.delivery("e:1"), k.delivery_attempts("e:1"), k.delivery_log]
    assert len({key_slot(name.encode()) for name in webhooks}) == 1


def test_the_worker_does_not_import_the_web_application() -> None:
    code = ("import sys, workers.jobs, workers.resources, workers.__main__\n"
            "print(' '.join(m for m in sys.modules if m == 'gateway.app'"
            " or m.startswith(('gateway.protocols', 'gateway.api'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)
    assert done.stdout.strip() == ""
