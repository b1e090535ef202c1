"""When a failing delivery is tried again: ``first_retry`` doubling up to ``max_retry_delay``, until
``max_age`` after the event. The last attempt lands exactly at the deadline, so a delivery is given the
whole window however the delays fall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.settings import WebhookSettings


@dataclass(frozen=True)
class Schedule:
    first_retry: float
    max_retry_delay: float
    max_age: float

    @classmethod
    def of(cls, settings: WebhookSettings) -> Schedule:
        return cls(settings.first_retry, max(settings.max_retry_delay, settings.first_retry), settings.max_age)

    def delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt (1-based)."""
        exponent = min(max(attempts - 1, 0), 64)
        return min(self.first_retry * 2.0**exponent, self.max_retry_delay)

    def next_at(self, attempts: int, now: float, deadline: float) -> float | None:
        """When to try again after ``attempts`` failures, or None once the deadline has passed."""
        if now >= deadline:
            return None
        return min(now + self.delay(attempts), deadline)

    def max_attempts(self) -> int:
        """How many attempts a delivery that always fails gets (first one at the event's time)."""
        elapsed, attempts = 0.0, 1
        while elapsed < self.max_age:
            step = self.delay(attempts)
            if step >= self.max_retry_delay:     # from here on every step is the same: count them
                return attempts + math.ceil((self.max_age - elapsed) / step)
            elapsed = min(elapsed + step, self.max_age)
            attempts += 1
        return attempts
