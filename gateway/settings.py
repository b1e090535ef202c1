"""One settings object: ``config.yaml`` overlaid by ``UPGW_<SECTION>__<KEY>`` environment variables.

Precedence is environment > file > defaults. Sizes accept integers (bytes) or strings such as
``8MiB`` / ``500GiB``; durations accept integers (seconds) or strings such as ``90s``, ``15m``, ``24h``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gateway.core.units import parse_duration, parse_size

ENV_PREFIX = "UPGW_"

Size = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]
Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    shutdown_timeout: Duration = 10.0
    # 1xx interim answers (the IETF draft's 104). Turn off behind a proxy that does not forward them:
    # nginx (1.22 measured) takes a 1xx from upstream as the final answer and drops the real one.
    interim_responses: bool = True

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")


class SentinelSettings(BaseModel):
    """A Redis primary found through Redis Sentinel: the sentinels' addresses and the name they watch."""

    model_config = ConfigDict(extra="forbid")

    master_name: str
    sentinels: list[str] = Field(min_length=1)   # "host:port"
    password: SecretStr | None = None            # the sentinels' own password, if they have one

    def addresses(self) -> list[tuple[str, int]]:
        out = []
        for entry in self.sentinels:
            host, _, port = entry.rpartition(":")
            out.append((host.strip("[]") or entry, int(port or 26379)))
        return out


class RedisSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # redis://, rediss://, unix://; redis+cluster:// (or rediss+cluster://, or ``cluster: true``) names any
    # node of a Redis Cluster: redis-py's cluster client learns the others and follows slot moves.
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "upgw"
    max_connections: int = Field(default=256, ge=4, le=10000)   # per process (per node in a cluster)
    cluster: bool = False
    # redis+sentinel://host:port,host:port/<master name>[/<db>] is the same as this:
    sentinel: SentinelSettings | None = None
    # Replicas that must hold an upload's new offset before it is acknowledged (WAIT n): none means one
    # when the primary has replicas, else none (looked up every 10 s). 0 turns it off.
    replica_acks: int | None = Field(default=None, ge=0, le=16)
    replica_ack_timeout: Duration = 2.0

    @model_validator(mode="after")
    def _sentinel_url(self) -> RedisSettings:
        parts = urlsplit(self.url)
        if not parts.scheme.endswith("+sentinel"):
            return self
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError("a redis+sentinel:// URL names the primary: redis+sentinel://host:port,.../<name>")
        hosts = parts.netloc.rpartition("@")[2]
        self.sentinel = SentinelSettings(master_name=path[0], sentinels=hosts.split(","))
        return self

    @property
    def sentinel_db(self) -> int:
        path = [p for p in urlsplit(self.url).path.split("/") if p]
        return int(path[1]) if self.sentinel is not None and len(path) > 1 else 0

    @property
    def is_cluster(self) -> bool:
        return self.cluster or urlsplit(self.url).scheme.endswith("+cluster")

    @property
    def plain_url(self) -> str:
        """``url`` with the ``+cluster`` marker taken off its scheme (what redis-py parses)."""
        scheme, sep, rest = self.url.partition("://")
        return f"{scheme.removesuffix('+cluster')}{sep}{rest}"


class FilesystemSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: Path = Path("./var/storage")


class S3Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str = "http://127.0.0.1:9000"
    public_endpoint: str = ""            # the S3 endpoint users reach for presigned downloads (default: endpoint)
    access_key: str = "minioadmin"
    secret_key: SecretStr = SecretStr("minioadmin")
    bucket: str = "uploads"
    region: str = "us-east-1"
    prefix: str = ""
    part_size: Size = 8 * 1024**2
    concurrent_parts: int = Field(default=3, ge=1, le=64)
    threads: int = Field(default=16, ge=1, le=256)
    # parts and segments PUT to S3 at once by one gateway; the rest wait on the spool disk (bounded per
    # upload by concurrent_parts), so an overloaded S3 slows uploads down instead of timing them out
    max_concurrent_puts: int = Field(default=32, ge=1, le=1024)


class StorageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["filesystem", "s3"] = "filesystem"
    filesystem: FilesystemSettings = FilesystemSettings()
    s3: S3Settings = S3Settings()
    spool_dir: str = ""


# What an API token may do (``auth.tokens[].scopes``); a token without ``scopes`` may do all of it.
Scope = Literal["uploads", "assets:read", "assets:write", "webhooks:read"]
SCOPES: tuple[Scope, ...] = get_args(Scope)


class Token(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    secret: SecretStr = Field(min_length=1)
    scopes: list[Scope] = Field(default_factory=lambda: list(SCOPES), min_length=1)


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: list[Token] = []

    @model_validator(mode="after")
    def _distinct(self) -> AuthSettings:
        """``Bearer`` carries only the secret, so two tokens sharing one could not be told apart."""
        ids = [t.id for t in self.tokens]
        if len(set(ids)) != len(ids):
            raise ValueError("auth.tokens: two tokens have the same id")
        secrets = [t.secret.get_secret_value() for t in self.tokens]
        if len(set(secrets)) != len(secrets):
            raise ValueError("auth.tokens: two tokens have the same secret")
        return self


class UploadSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_size: Size = 500 * 1024**3
    expiration: Duration = 24 * 3600.0
    sweep_interval: Duration = 60.0
    lock_timeout: Duration = 10.0
    idle_timeout: Duration = 60.0       # a body that sends nothing this long is answered (tusd's network timeout)
    max_concat_parts: int = Field(default=1000, ge=1, le=100_000)   # partial uploads in one final upload
    # Backpressure (gateway/backpressure.py): more bodies being stored at once, or less free disk where
    # they land, and new ones are answered 503 with Retry-After before a byte is read. 0: no write limit.
    max_concurrent_writes: int = Field(default=512, ge=0)
    min_free_disk: Size = 256 * 1024**2


class DirectUploadSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_timeout: int = Field(default=3600, ge=60, le=604800)


class JobSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The job queue's Redis (saq): default ``redis.url``. saq does not speak Redis Cluster, so with a
    # cluster it must name a plain Redis (or a Sentinel-managed one) of its own.
    redis_url: str | None = None
    timeout: Duration = 3600.0          # one job's time limit (probe + standardise)
    heartbeat: Duration = 60.0          # a job not heard from for this long is retried elsewhere
    retries: int = Field(default=5, ge=1, le=100)
    retry_delay: float = 2.0            # seconds before the first retry; doubles each time
    keep_result: Duration = 7 * 86400.0  # how long a finished job's key blocks a duplicate
    concurrency: int = Field(default=1, ge=1, le=64)   # jobs one worker process runs at once
    sweep_interval: Duration = 30.0     # how often workers look for jobs of dead workers
    probe_timeout: Duration = 120.0     # ffprobe time limit
    # Address-space limits (RLIMIT_AS) of one run; ffprobe alone maps ~250 MiB of shared libraries, and
    # ffmpeg's needs grow with the host's cores (4K at 2160p: 1.6 GiB with 3 threads, 8.7 GiB with 48).
    probe_memory: Size = Field(default=512 * 1024**2, ge=256 * 1024**2)   # one ffprobe run
    transcode_memory: Size = Field(default=16 * 1024**3, ge=1024**3)      # one ffmpeg run (remux, standardise)


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    secret: SecretStr


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoints: list[WebhookEndpoint] = []
    timeout: Duration = 5.0              # one delivery attempt's limit
    max_age: Duration = 24 * 3600.0      # keep retrying a failing delivery this long
    first_retry: Duration = 5.0          # delays grow from this, doubling, up to max_retry_delay
    max_retry_delay: Duration = 3600.0
    environment_name: str = "Production"
    environment_id: str = "self-hosted"


class MasterAccessSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl: Duration = 24 * 3600.0          # a master URL (and the master object behind it) lives this long
    signing_key: SecretStr = SecretStr("")   # signs gateway master URLs (filesystem backend); shared by all gateways


class IngestSettings(BaseModel):
    """Fetching an asset's input from a URL (Mux ``inputs[].url``, Livepeer ``upload/url``): see
    ``gateway/ingest``. Only public addresses are ever contacted, unless listed in ``allow_hosts``."""

    model_config = ConfigDict(extra="forbid")

    # Private sources an operator trusts: "media.internal", "media.internal:8080", "10.0.0.5",
    # "10.0.0.5:8080", "fd00::5", "[fd00::5]:8080". A name matches only that name (not the addresses it
    # resolves to, nor other names resolving to them), an address only a URL naming that address.
    allow_hosts: list[str] = []
    connect_timeout: Duration = 10.0     # one connection's set-up (TCP and TLS)
    read_timeout: Duration = 30.0        # the headers, then each read of the body
    max_redirects: int = Field(default=5, ge=0, le=5)

    @model_validator(mode="after")
    def _entries(self) -> IngestSettings:
        if not self.allow_hosts:   # the default: nothing to check (and nothing imported at import time)
            return self
        from gateway.ingest.addresses import parse_allow_entry  # the one parser of an entry

        for entry in self.allow_hosts:
            parse_allow_entry(entry)
        return self


class PlaybackSettings(BaseModel):
    """Playback of ready assets: HLS, static renditions and images under Mux's URL shapes
    (``/stream/<playback id>.m3u8``, ``/image/<playback id>/thumbnail.jpg``; see gateway/playback)."""

    model_config = ConfigDict(extra="forbid")

    public_url: str | None = None        # base of playback URLs; default: server.public_url
    host_routing: bool = False           # also answer stream.<domain>/<id>.m3u8 and image.<domain>/<id>/...
    ladder: list[int] = [1080, 720, 480, 360, 270]   # rung heights, each made only below the source
    segment_duration: float = Field(default=4.0, ge=1.0, le=10.0)   # target seconds per segment
    render_concurrency: int = Field(default=2, ge=1)    # images rendered at once per gateway (ffmpeg runs)
    render_queue: int = Field(default=32, ge=0)         # renders waiting for a slot; more get 503
    render_timeout: Duration = 20.0      # one image render

    def base_url(self, server: ServerSettings) -> str:
        return (self.public_url or server.base_url).rstrip("/")


class LogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str = "INFO"
    format: Literal["json", "text"] = "json"


class Settings(BaseSettings):
    # Unknown keys anywhere are an error (a misspelt key is not silently ignored). Environment variables
    # are read only for known sections, so UPGW_URL or UPGW_VAR_DIR (the uploader's, scripts/run.sh's)
    # are not settings and pass unnoticed, while UPGW_REDIS__CLUSTR names an unknown key of ``redis``.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    server: ServerSettings = ServerSettings()
    redis: RedisSettings = RedisSettings()
    storage: StorageSettings = StorageSettings()
    auth: AuthSettings = AuthSettings()
    uploads: UploadSettings = UploadSettings()
    log: LogSettings = LogSettings()
    direct_uploads: DirectUploadSettings = DirectUploadSettings()
    jobs: JobSettings = JobSettings()
    webhooks: WebhookSettings = WebhookSettings()
    master_access: MasterAccessSettings = MasterAccessSettings()
    ingest: IngestSettings = IngestSettings()
    playback: PlaybackSettings = PlaybackSettings()

    @model_validator(mode="after")
    def _queue_redis(self) -> Settings:
        queue = self.jobs.redis_url
        if self.redis.is_cluster and (queue is None or RedisSettings(url=queue).is_cluster):
            raise ValueError("jobs.redis_url must name a plain (non-cluster) Redis when redis.url is a Redis "
                             "Cluster: the job queue (saq) does not speak Cluster")
        return self

    @property
    def queue_redis_url(self) -> str:
        return self.jobs.redis_url or self.redis.url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first (wins), then the values read from the YAML file (passed as init kwargs).
        return env_settings, init_settings


class UnknownSetting(ValueError):
    """A key no setting has, in the file or in a ``UPGW_<SECTION>__<KEY>`` variable (a typo, usually)."""


def _dotted(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _found(data: Any, loc: tuple[int | str, ...]) -> bool:
    try:
        for part in loc:
            data = data[part]
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _where(data: dict[str, Any], loc: tuple[int | str, ...], path: str | Path | None) -> str:
    if _found(data, loc):
        return f"in {path}" if path is not None else "given"
    names = [str(part) for part in loc if not isinstance(part, int)]
    variable = (ENV_PREFIX + "__".join(names)).upper()
    return f"from {variable}" if variable in {k.upper() for k in os.environ} else "from the environment"


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read ``path`` (if given and present), then apply the environment on top. A key that no setting
    has, at any level, raises :class:`UnknownSetting` naming its dotted path."""
    data: dict[str, Any] = {}
    if path is not None:
        text = Path(path).read_text(encoding="utf-8")
        loaded = yaml.safe_load(text) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: the top level must be a mapping")
        data = loaded
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        errors = exc.errors()
        unknown = [e["loc"] for e in errors if e["type"] == "extra_forbidden"]
        if not unknown:
            raise
        lines = [f"unknown setting {_dotted(loc)} ({_where(data, loc, path)})" for loc in unknown]
        lines += [f"{_dotted(e['loc'])}: {e['msg']}" for e in errors if e["type"] != "extra_forbidden"]
        raise UnknownSetting("; ".join(lines)) from None


def settings_for_command(path: Path | None, prog: str) -> Settings | None:
    """Settings for ``python -m gateway`` / ``python -m workers``: ``path``, else ``./config.yaml`` if
    present, overlaid by the environment. None (after saying why on stderr) when they cannot be loaded."""
    if path is None and Path("config.yaml").exists():
        path = Path("config.yaml")
    try:
        return load_settings(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"{prog}: cannot load settings: {exc}", file=sys.stderr)
        return None
