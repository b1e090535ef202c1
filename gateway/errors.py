"""The one error tree. Every error carries its HTTP status and a stable ``type``; they become HTTP responses
in one place, ``gateway/http.py:error_response``.

    GatewayError (500)
    ├── InvalidTransition (500)     a status change no transition table allows: a bug, not the client's
    ├── BadRequest (400)            ├── InvalidHeader, UploadInterrupted, ClientGone
    ├── Unauthorized (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── MethodNotAllowed (405)
    ├── Conflict (409)              └── OffsetMismatch
    ├── Gone (410)
    ├── PreconditionFailed (412)    └── UnsupportedVersion
    ├── LengthRequired (411)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── RangeNotSatisfiable (416)
    ├── Locked (423)
    ├── ChecksumMismatch (460)
    └── Unavailable (503)           └── StorageUnavailable, StateUnavailable, ReadTimeout
"""

from __future__ import annotations


class GatewayError(Exception):
    status = 500
    type = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None,
                 messages: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.messages = messages or [message]
        self.headers = headers or {}
        # an error that ended an upload's body early: the bytes kept (the new offset), and its expiry
        self.offset: int | None = None
        self.expires_at: float | None = None


class InvalidTransition(GatewayError):
    """A status change its state machine's table does not allow (``gateway/catalog/models.py``): a bug in
    the code that asked for it, caught before anything is written."""


class BadRequest(GatewayError):
    status = 400
    type = "invalid_parameters"


class InvalidHeader(BadRequest):
    type = "invalid_header"


class UploadInterrupted(BadRequest):
    type = "upload_interrupted"


class ClientGone(BadRequest):
    """The client went away mid-body (the bytes that arrived are kept)."""

    type = "client_disconnected"


class Unauthorized(GatewayError):
    status = 401
    type = "unauthorized"


class Forbidden(GatewayError):
    status = 403
    type = "forbidden"


class NotFound(GatewayError):
    status = 404
    type = "not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "method_not_allowed"


class Conflict(GatewayError):
    status = 409
    type = "conflict"


class OffsetMismatch(Conflict):
    type = "offset_mismatch"


class Gone(GatewayError):
    status = 410
    type = "gone"


class PreconditionFailed(GatewayError):
    status = 412
    type = "precondition_failed"


class UnsupportedVersion(PreconditionFailed):
    type = "unsupported_version"


class LengthRequired(GatewayError):
    status = 411
    type = "length_required"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "too_large"


class UnsupportedMediaType(GatewayError):
    status = 415
    type = "unsupported_media_type"


class RangeNotSatisfiable(GatewayError):
    status = 416
    type = "range_not_satisfiable"


class Locked(GatewayError):
    status = 423
    type = "locked"


class ChecksumMismatch(GatewayError):
    status = 460
    type = "checksum_mismatch"


class Unavailable(GatewayError):
    status = 503
    type = "unavailable"


class StorageUnavailable(Unavailable):
    type = "storage_unavailable"


class StateUnavailable(Unavailable):
    """Redis did not answer (mapped at the state adapters, ``gateway/state/errors.py``)."""

    type = "state_unavailable"


class ReadTimeout(Unavailable):
    """No body bytes within ``uploads.idle_timeout``; 503 is retried by tus-js-client and UpChunk alike
    (tusd answers 500 for the same reason)."""

    type = "read_timeout"
