"""Ingest from a URL (Mux ``inputs: [{url}]``, Livepeer ``upload/url``): a guarded, resumable fetch into an
upload. :mod:`.guard` decides what may be contacted, :mod:`.fetch` moves the bytes, :mod:`.addresses`
holds the pure address rules and the allow-list."""

from gateway.ingest.addresses import AllowList, is_public, non_public_reason, parse_allow_entry
from gateway.ingest.errors import (
    IngestError,
    IngestRefused,
    SourceInterrupted,
    SourceInvalid,
    SourceStatus,
    SourceTooLarge,
    SourceUnreachable,
)
from gateway.ingest.fetch import import_url, restart
from gateway.ingest.guard import GuardedClient, GuardedResolver, check_url

__all__ = [
    "AllowList",
    "GuardedClient",
    "GuardedResolver",
    "IngestError",
    "IngestRefused",
    "SourceInterrupted",
    "SourceInvalid",
    "SourceStatus",
    "SourceTooLarge",
    "SourceUnreachable",
    "check_url",
    "import_url",
    "is_public",
    "non_public_reason",
    "parse_allow_entry",
    "restart",
]
