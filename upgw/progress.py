"""The upload progress line on stderr: bar, bytes, percent, MiB/s and time left.

On a terminal one line is redrawn in place (``\\r``); otherwise (a log file, CI) a line is written every
10 % or 10 s, whichever comes first. The speed covers the last few seconds of this run only, so bytes
that were already on the server before a resume do not inflate it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

MIB = 1024 * 1024
BAR_WIDTH = 24
WINDOW = 5.0          # seconds of samples behind the speed
LOG_EVERY = 10.0      # non-terminal: at least this often...
LOG_STEP = 10.0       # ...or every this many percent


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def render(offset: int, length: int, rate: float | None) -> str:
    """``[#####-----]  42.0%  8.4/20.0 MiB  3.1 MiB/s  ETA 0:04`` (``rate`` in bytes per second)."""
    fraction = offset / length if length else 1.0
    filled = int(fraction * BAR_WIDTH)
    speed = f"{rate / MIB:.1f} MiB/s" if rate is not None else "-- MiB/s"
    eta = (length - offset) / rate if rate else (0.0 if offset >= length else None)
    return (f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {fraction * 100:5.1f}%  "
            f"{offset / MIB:.1f}/{length / MIB:.1f} MiB  {speed}  ETA {format_eta(eta)}")


class Progress:
    def __init__(self, stream: TextIO, length: int, *, enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.length = length
        self.enabled = enabled
        self.clock = clock
        self.tty = stream.isatty()
        self.samples: deque[tuple[float, int]] = deque()
        self.offset = 0
        self.drawn = False            # a terminal line is on screen without its newline
        self.width = 0                # the longest line drawn in place so far
        self.logged_at = 0.0
        self.logged_percent = -LOG_STEP

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, o0), (t1, o1) = self.samples[0], self.samples[-1]
        return (o1 - o0) / (t1 - t0) if t1 > t0 and o1 > o0 else None

    def start(self, offset: int) -> None:
        """The transfer (re)starts at ``offset``: speed is measured from here."""
        self.samples.clear()
        self.update(offset)

    def update(self, offset: int) -> None:
        now = self.clock()
        self.offset = offset
        self.samples.append((now, offset))
        while len(self.samples) > 2 and now - self.samples[1][0] >= WINDOW:
            self.samples.popleft()
        if not self.enabled:
            return
        percent = 100.0 * offset / self.length if self.length else 100.0
        line = render(offset, self.length, self.rate())
        if self.tty:
            self.stream.write(f"\r{line:<{self.width}}")
            self.width = max(self.width, len(line))   # a shorter line overwrites the longer one fully
            self.drawn = True
        elif (now - self.logged_at >= LOG_EVERY or percent - self.logged_percent >= LOG_STEP
              or (offset >= self.length and self.logged_percent < 100.0)):
            self.stream.write(line + "\n")
            self.logged_at, self.logged_percent = now, percent
        self.stream.flush()

    def end_line(self) -> None:
        """Finish the in-place line so that the next message starts on its own line."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
