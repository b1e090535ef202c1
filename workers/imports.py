"""Importing an asset's source from a URL (``source_url``) into its storage upload, before it is analysed
(workers/jobs.py calls it; gateway/ingest does the fetching, resumably, through the SSRF guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from gateway.catalog.models import Asset, AssetStatus, Progress, ProgressState
from gateway.errors import NotFound
from gateway.ingest import IngestError, import_url
from gateway.models import Upload
from workers.resources import Resources

log = logging.getLogger("workers.jobs")
INPUT_ERROR = "invalid_input"   # Mux's error type for an input that cannot be used
Fail = Callable[[Resources, str, str, str], Awaitable[str]]   # (res, asset id, error type, message) -> outcome


def ingest_message(exc: IngestError) -> str:
    return f"the input URL could not be imported: {exc.message}"


async def import_source(res: Resources, asset: Asset, url: str, fail: Fail) -> Upload | str:
    """Fetch ``url`` into the asset's source upload (from its stored offset), showing ``ingesting``
    progress on the asset meanwhile. The finished upload; or the outcome when the asset errored (``fail``:
    the URL refused, a source error that will not pass). A failure that may pass raises (the queue retries)."""
    progress = asyncio.create_task(_ingest_progress(res, asset.id, asset.source))
    try:
        return await import_url(res.service, asset.source, url, settings=res.settings.ingest)
    except IngestError as exc:
        log.info("asset.import_failed", extra={"asset_id": asset.id, "error_type": exc.type,
                                                "retryable": exc.retryable, "error": exc.message})
        if exc.retryable:
            raise
        return await fail(res, asset.id, INPUT_ERROR, ingest_message(exc))
    except NotFound:
        return await fail(res, asset.id, INPUT_ERROR, "the imported file is no longer stored")
    finally:
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await progress


async def _ingest_progress(res: Resources, asset_id: str, upload_id: str, every: float = 1.0) -> None:
    """While importing: ``progress: {state: ingesting, progress: <percent>}`` once the length is known."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):   # progress is a courtesy: never the job's failure
            upload = await res.state.get(upload_id)
            asset = await res.assets.get(asset_id)
            if upload is None or asset is None or asset.status is not AssetStatus.PREPARING:
                return
            if not upload.length:
                continue
            moved = Progress(ProgressState.INGESTING, round(min(upload.offset / upload.length, 1) * 100, 1))
            if moved != asset.progress:
                await res.assets.write(asset, replace(asset, progress=moved))
