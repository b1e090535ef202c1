"""What an import from a URL can fail with. All are :class:`~gateway.errors.GatewayError`, so the API layer
answers them like any other; ``retryable`` tells a job whether calling :func:`~gateway.ingest.import_url`
again may succeed (it resumes from the stored offset).

    IngestError (502)
    ├── IngestRefused (400)        the URL, a redirect or the answer breaks a rule: never fetched (again)
    │   └── SourceTooLarge (413)   longer than ``uploads.max_size`` (or than the upload's length)
    ├── SourceStatus (502)         the source answered an error status (404, 500, ...)
    ├── SourceInvalid (502)        an answer that cannot be used (a wrong Content-Range, a short body)
    ├── SourceUnreachable (503)    no connection, no answer in time
    └── SourceInterrupted (503)    the body broke off; ``offset`` is what is stored
"""

from __future__ import annotations

from gateway.errors import GatewayError


class IngestError(GatewayError):
    status = 502
    type = "ingest_failed"
    retryable = False


class IngestRefused(IngestError):
    """Not fetched: the URL's scheme or host, a redirect, or the source's size breaks a rule."""

    status = 400
    type = "ingest_refused"


class SourceTooLarge(IngestRefused):
    status = 413
    type = "too_large"


class SourceStatus(IngestError):
    """The source answered with an error status, kept in ``source_status``."""

    type = "source_error"

    def __init__(self, message: str, *, source_status: int) -> None:
        super().__init__(message)
        self.source_status = source_status
        # a server error or a rate limit may pass; a 4xx (404, 403, 410) will not
        self.retryable = source_status >= 500 or source_status in (408, 429)


class SourceInvalid(IngestError):
    type = "source_invalid"


class SourceUnreachable(IngestError):
    status = 503
    type = "source_unreachable"
    retryable = True


class SourceInterrupted(IngestError):
    """The body broke off (a dropped connection, a stall); the bytes that arrived are kept (``offset``)."""

    status = 503
    type = "source_interrupted"
    retryable = True
