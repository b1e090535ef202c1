"""Messages for people on stderr (stdout carries only the result), kept off the progress line."""

from __future__ import annotations

from typing import TextIO

from upgw.progress import Progress


class Console:
    def __init__(self, stream: TextIO, *, progress_enabled: bool = True) -> None:
        self.stream = stream
        self.progress_enabled = progress_enabled
        self.progress: Progress | None = None

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress.end_line()
        self.stream.write(message + "\n")
        self.stream.flush()

    def start_progress(self, length: int) -> Progress:
        self.progress = Progress(self.stream, length, enabled=self.progress_enabled)
        return self.progress

    def stop_progress(self) -> None:
        if self.progress is not None:
            self.progress.end_line()
            self.progress = None
