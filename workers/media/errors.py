"""The one error the media core raises.

`MediaError.type` says what went wrong, in words an Asset's `errors.type` can carry:

- `invalid_input`: the source is not usable media. Not a media file, a rejected container (playlists,
  concat lists, image sequences), truncated, no audio or video stream, or ffmpeg could not read it.
- `download_failed`: the source could not be read at all (missing file, HTTP error, refused connection).
  Usually worth retrying.
- `timeout`: a time limit ran out. The ffmpeg/ffprobe process group was killed first.
- `internal`: the output could not be written (destination directory, disk, encoder).

`message` is short and fit for `errors.messages`; `detail` is the tool's stderr tail, for logs only.
"""

from __future__ import annotations

from typing import Literal

ErrorType = Literal["invalid_input", "download_failed", "timeout", "internal"]


class MediaError(Exception):
    """A source that cannot be analysed or converted, or a tool that failed or ran out of time."""

    def __init__(self, type: ErrorType, message: str, detail: str = "") -> None:
        super().__init__(f"{type}: {message}")
        self.type: ErrorType = type
        self.message = message
        self.detail = detail


_DOWNLOAD_HINTS = (
    "No such file or directory",
    "Server returned",
    "Connection refused",
    "Connection timed out",
    "Connection reset",
    "Name or service not known",
    "Input/output error",
    "Permission denied",
)


def tool_failure(tool: str, stderr: str) -> MediaError:
    """Map a failed ffprobe/ffmpeg run (non-zero exit) to a MediaError, from its stderr."""
    tail = stderr.strip()[-4000:]
    if "not on whitelist" in tail:
        return MediaError("invalid_input", "Unsupported file type: playlists, lists and image sequences are not "
                          "accepted", tail)
    if any(hint in tail for hint in _DOWNLOAD_HINTS):
        return MediaError("download_failed", "The input file could not be read", tail)
    return MediaError("invalid_input", f"The input file could not be read as media ({tool} failed)", tail)
