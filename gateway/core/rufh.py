"""Resumable Uploads for HTTP (draft-ietf-httpbis-resumable-upload): the interop versions this server
speaks, one row each, and the structured-field headers they use. No I/O.

Every request names its version in ``Upload-Draft-Interop-Version``; every answer echoes it. What
differs between the versions this server serves (3 to 8, drafts -01 to -11):

    version  drafts     completeness header            appends need               Upload-Limit age key
    3        -01        Upload-Incomplete: ?1 / ?0     -                          expires
    4, 5     -02, -03   Upload-Complete: ?0 / ?1       -                          expires
    6        -04, -05   Upload-Complete                application/partial-upload expires
    7        -06 to -08 Upload-Complete                application/partial-upload max-age
    8        -09 to -11 Upload-Complete                application/partial-upload max-age

Problem details (``mismatching-upload-offset``, ``inconsistent-upload-length``) are sent from version 6;
``Upload-Length`` is read from every version (tus-js-client sends it from 5, URLSession reads it).
Header values are parsed and written with ``http-sf`` (RFC 9651).
"""

from __future__ import annotations

from dataclasses import dataclass

import http_sf

from gateway.errors import BadRequest, InvalidHeader

INTEROP = "Upload-Draft-Interop-Version"
PARTIAL_UPLOAD = "application/partial-upload"
PROBLEM_TYPES = "https://iana.org/assignments/http-problem-types#"


@dataclass(frozen=True)
class Version:
    number: int
    drafts: str
    complete_header: str            # "Upload-Complete", or "Upload-Incomplete" (inverted) in version 3
    partial_content_type: bool      # appends must send Content-Type: application/partial-upload
    age_key: str                    # Upload-Limit's key for how long an upload may stay unfinished
    problem_details: bool           # errors carry the draft's problem types

    def complete_value(self, complete: bool) -> str:
        """The completeness header's value for ``complete``."""
        inverted = self.complete_header == "Upload-Incomplete"
        return http_sf.ser(complete != inverted)


VERSIONS: dict[int, Version] = {v.number: v for v in (
    Version(3, "-01", "Upload-Incomplete", False, "expires", False),
    Version(4, "-02", "Upload-Complete", False, "expires", False),
    Version(5, "-03", "Upload-Complete", False, "expires", False),
    Version(6, "-04, -05", "Upload-Complete", True, "expires", True),
    Version(7, "-06 to -08", "Upload-Complete", True, "max-age", True),
    Version(8, "-09 to -11", "Upload-Complete", True, "max-age", True),
)}
SUPPORTED = f"{min(VERSIONS)} to {max(VERSIONS)}"


def version_of(value: str | None) -> Version | None:
    """The version a request speaks: None without the header; 400 for one this server does not speak."""
    if value is None:
        return None
    number = _item(INTEROP, value)
    if isinstance(number, bool) or not isinstance(number, int) or number not in VERSIONS:
        raise UnsupportedInterop(f"{INTEROP} {value.strip()[:20]!r} is not spoken here; use {SUPPORTED}")
    return VERSIONS[number]


class UnsupportedInterop(BadRequest):
    type = "unsupported_interop_version"


def complete_of(version: Version, headers: dict[str, str]) -> bool | None:
    """What the request says about completeness (None when it says nothing)."""
    value = headers.get(version.complete_header)
    if value is None:
        return None
    flag = _item(version.complete_header, value)
    if not isinstance(flag, bool):
        raise InvalidHeader(f"{version.complete_header} must be a structured boolean, ?0 or ?1")
    return flag if version.complete_header == "Upload-Complete" else not flag


def integer_of(name: str, value: str | None) -> int | None:
    """``Upload-Offset`` / ``Upload-Length``: a non-negative structured integer (None when absent)."""
    if value is None:
        return None
    number = _item(name, value)
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise InvalidHeader(f"{name} must be a non-negative structured integer")
    return number


def limits(version: Version, *, max_size: int, max_age: float) -> str:
    """The ``Upload-Limit`` dictionary."""
    return str(http_sf.ser({"max-size": max_size, "min-size": 0, version.age_key: int(max_age)}))


def problem(version: Version, kind: str, title: str, **members: int) -> dict[str, object]:
    """Problem-details members (RFC 9457) for the versions that define the draft's problem types."""
    if not version.problem_details:
        return {}
    return {"type": PROBLEM_TYPES + kind, "title": title, **members}


def _item(name: str, value: str) -> object:
    try:
        parsed: object = http_sf.parse(value.strip().encode("ascii"), tltype="item")
    except (http_sf.StructuredFieldError, UnicodeEncodeError, ValueError):
        raise InvalidHeader(f"{name} is not a valid structured field value: {value.strip()[:40]!r}") from None
    return parsed[0] if isinstance(parsed, tuple) else parsed   # (value, parameters)
