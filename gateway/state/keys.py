"""Every Redis key the gateway and the workers use, in one place: stores ask :class:`Keys` for names.

``<p>`` is ``redis.key_prefix``. A ``{...}`` part is a hash tag: Redis Cluster places a key by its tag
alone, so keys with one tag share a slot. Every Lua script and MULTI block of ours touches one tag only.
Paths in the last column are the modules that write the key (under gateway/ unless they say workers/).

Uploads, the resumable resource:

    <p>:{<id>}:u              hash    the upload record (offset, length, metadata, state)  state/redis.py
    <p>:{<id>}:parts          list    committed S3 parts, "number etag size"               state/redis.py
    <p>:{<id>}:segs           list    segments of the unfinished part, "offset size key"   state/redis.py
    <p>:{<id>}:lock           string  the writer's lock token (PX ttl, refreshed)          state/lock.py
    <p>:{<id>}:release        string  a newer request asking the lock holder to stop       state/lock.py
    <p>:{<id>}:finals         set     final uploads waiting for this partial (concat)      state/redis.py
    <p>:{<id>}:tomb           string  "expired" / "terminated": the URL answers 410 a week state/redis.py
    <p>:expiry                zset    upload id -> expiry time (unix s), for the sweeper   state/redis.py

Direct uploads, assets and their events, the Mux and Livepeer APIs:

    <p>:{<id>}:upload         hash    a direct upload, one JSON value per field     catalog/records.py, uploads.py
    <p>:uploads               zset    direct upload id -> created_at                catalog/records.py, uploads.py
    <p>:uploads:waiting       zset    direct upload id -> deadline, while waiting   catalog/uploads.py
    <p>:uploads:completing    set     direct uploads whose completion is under way  catalog/uploads.py
    <p>:{<id>}:asset          hash    an asset, one JSON value per field            catalog/assets.py, workers/jobs.py
    <p>:assets                zset    asset id -> created_at                        catalog/records.py, assets.py
    <p>:{<asset id>}:livepeer string  the direct upload behind a Livepeer asset     api/livepeer.py
    <p>:events                stream  every webhook event (id, type, object, data)  catalog/events.py
    <p>:{<id>}:emitted        set     event types already recorded for one object   catalog/events.py
    <p>:masters:expiry        zset    asset id -> when its master URL expires       catalog/masters.py
    <p>:{<pid>}:playback      hash    a playback id: asset, policy                  catalog/playback.py
    <p>:{<kid>}:signing_key   hash    a signing key: public_key (PEM), created_at    playback/keys.py
    <p>:signing_keys          zset    signing key id -> created_at                  playback/keys.py
    <p>:metrics:jobs          hash    "<outcome>|<bucket>" -> count (job durations) metrics.py, by workers/jobs.py

Webhook deliveries, all under the one tag ``{webhooks}``:

    <p>:{webhooks}:due              zset  delivery id -> when it may next be attempted  webhooks/store.py
    <p>:{webhooks}:d:<delivery id>  hash  event JSON, url, webhook_id, deadline, status webhooks/store.py
    <p>:{webhooks}:a:<delivery id>  list  the delivery's attempts (JSON)                webhooks/store.py
    <p>:{webhooks}:log              list  the newest attempts of all deliveries (JSON)  webhooks/store.py
    (the consumer group ``webhooks`` on ``<p>:events`` is workers/webhooks/relay.py's)

The job queue, saq's queue ``<p>-assets``; saq names its own keys from it:

    <p>-assets:pending              zset    asset id -> when queued, until it settles   queue.py
    saq:<p>-assets:<name>           various saq's incomplete, queued, active, schedule,  saq
                                            sweep, stats and worker_info:<uuid> keys
    saq:job:<p>-assets:asset-<id>   string  one job; its key dedupes enqueues            saq

Keys without a tag (the indexes above, the stream, saq's keys) land wherever their name hashes. Ours are
never used together in one transaction; saq's are (its MULTI blocks and scripts span several), which is
one reason Redis Cluster is not supported yet (docs/scaling.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RecordKind = Literal["upload", "asset"]   # the catalog's record kinds (catalog/records.py)


@dataclass(frozen=True)
class Keys:
    prefix: str = "upgw"

    # -- uploads ---------------------------------------------------------------------------------

    def upload(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:u"

    def parts(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:parts"

    def segments(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:segs"

    def lock(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:lock"

    def release(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:release"

    def finals(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:finals"

    def tombstone(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:tomb"

    def all_of(self, upload_id: str) -> list[str]:
        """The keys deleted with an upload (the lock expires by itself, the tombstone is written)."""
        return [self.upload(upload_id), self.parts(upload_id), self.segments(upload_id),
                self.release(upload_id), self.finals(upload_id)]

    @property
    def expiry(self) -> str:
        return f"{self.prefix}:expiry"

    # -- direct uploads, assets, events ------------------------------------------------------------

    def record(self, kind: RecordKind, record_id: str) -> str:
        """``<p>:{<id>}:upload`` (a direct upload) or ``<p>:{<id>}:asset``."""
        return f"{self.prefix}:{{{record_id}}}:{kind}"

    def records(self, kind: RecordKind) -> str:
        """The creation-time index of one kind: ``<p>:uploads`` or ``<p>:assets``."""
        return f"{self.prefix}:{kind}s"

    @property
    def waiting_uploads(self) -> str:
        return f"{self.prefix}:uploads:waiting"

    @property
    def completing_uploads(self) -> str:
        return f"{self.prefix}:uploads:completing"

    def livepeer(self, asset_id: str) -> str:
        return f"{self.prefix}:{{{asset_id}}}:livepeer"

    @property
    def events(self) -> str:
        return f"{self.prefix}:events"

    def emitted(self, object_id: str) -> str:
        return f"{self.prefix}:{{{object_id}}}:emitted"

    @property
    def master_expiry(self) -> str:
        return f"{self.prefix}:masters:expiry"

    def playback(self, playback_id: str) -> str:
        return f"{self.prefix}:{{{playback_id}}}:playback"

    def signing_key(self, key_id: str) -> str:
        return f"{self.prefix}:{{{key_id}}}:signing_key"

    @property
    def signing_keys(self) -> str:
        return f"{self.prefix}:signing_keys"

    @property
    def job_timings(self) -> str:
        return f"{self.prefix}:metrics:jobs"

    # -- webhook deliveries ----------------------------------------------------------------------

    @property
    def webhooks_due(self) -> str:
        return f"{self.prefix}:{{webhooks}}:due"

    def delivery(self, delivery_id: str) -> str:
        return f"{self.prefix}:{{webhooks}}:d:{delivery_id}"

    def delivery_attempts(self, delivery_id: str) -> str:
        return f"{self.prefix}:{{webhooks}}:a:{delivery_id}"

    @property
    def delivery_log(self) -> str:
        return f"{self.prefix}:{{webhooks}}:log"

    # -- the job queue ---------------------------------------------------------------------------

    @property
    def queue(self) -> str:
        """The saq queue's name (saq derives its own keys from it)."""
        return f"{self.prefix}-assets"

    @property
    def pending_assets(self) -> str:
        return f"{self.queue}:pending"


LOCK_TTL_MS = 10_000          # a lock not refreshed for this long is free
LOCK_REFRESH_S = 0.5          # holders refresh (and look for release requests) this often
TOMBSTONE_TTL_S = 7 * 86400   # how long an expired/terminated id keeps answering 410
