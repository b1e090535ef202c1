"""Python half of the uploader-page tests' browser: one headless Chromium page (tests/js/ui_session.mjs)
that takes commands line by line, so a test can click, check the server, and click again."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from tests.browser.harness import CHROMIUM, JS, require_browser


class BrowserError(AssertionError):
    pass


class Session:
    def __init__(self, proc: subprocess.Popen[str], log: Path) -> None:
        self.proc, self.log = proc, log
        self.replies: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()
        self._expect(timeout=30)  # "ready"

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.replies.put(line)
        self.replies.put(None)

    def _expect(self, timeout: float) -> Any:
        try:
            line = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise BrowserError(f"no answer from the browser in {timeout} s\n{self._log_tail()}") from None
        if line is None:
            raise BrowserError(f"the browser driver exited\n{self._log_tail()}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise BrowserError(f"{reply['error']}\n{self._log_tail()}")
        return reply["value"]

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def send(self, op: str, timeout: float = 30, **fields: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, "timeoutMs": int(timeout * 1000), **fields}) + "\n")
        self.proc.stdin.flush()
        return self._expect(timeout + 15)

    # the commands, named as in Playwright
    def goto(self, url: str) -> None:
        self.send("goto", url=url)

    def reload(self) -> None:
        self.send("reload")

    def click(self, selector: str) -> None:
        self.send("click", selector=selector)

    def fill(self, selector: str, value: str) -> None:
        self.send("fill", selector=selector, value=value)

    def check(self, selector: str, checked: bool = True) -> None:
        self.send("check", selector=selector, checked=checked)

    def set_input_files(self, selector: str, path: Path) -> None:
        self.send("setInputFiles", selector=selector, files=[str(path)])

    def wait_for(self, selector: str, timeout: float = 30, state: str = "visible") -> None:
        self.send("waitFor", timeout=timeout, selector=selector, state=state)

    def text(self, selector: str) -> str:
        return str(self.send("text", selector=selector) or "")

    def evaluate(self, fn: str, arg: Any = None) -> Any:
        """``fn`` is JavaScript function source, called in the page with ``arg``."""
        return self.send("evaluate", fn=fn, arg=arg)

    def wait_for_function(self, fn: str, arg: Any = None, timeout: float = 30, polling: int | str = "raf") -> Any:
        return self.send("waitForFunction", timeout=timeout, fn=fn, arg=arg, polling=polling)

    def throttle(self, upload_bytes_per_second: int) -> None:
        """Limit how fast the page uploads (-1: no limit), so a test can act mid-upload on any machine."""
        self.send("throttle", uploadBytesPerSecond=upload_bytes_per_second)

    def viewport(self, width: int, height: int) -> None:
        self.send("viewport", size={"width": width, "height": height})

    def screenshot(self, path: Path) -> None:
        self.send("screenshot", path=str(path))

    def events(self, clear: bool = False) -> dict[str, Any]:
        value = self.send("events", clear=clear)
        assert isinstance(value, dict)
        return value

    def close(self) -> None:
        if self.proc.poll() is None:
            with suppress(BrowserError):
                self.send("close", timeout=5)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@contextmanager
def open_session(log: Path, width: int = 1024, height: int = 768,
                 credentials: tuple[str, str] | None = None) -> Iterator[Session]:
    require_browser()
    options: dict[str, Any] = {"executablePath": str(CHROMIUM), "viewport": {"width": width, "height": height}}
    if credentials is not None:
        options["httpCredentials"] = {"username": credentials[0], "password": credentials[1]}
    with log.open("w") as stderr:
        proc = subprocess.Popen(["node", str(JS / "ui_session.mjs"), json.dumps(options)], cwd=JS, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        session = None
        try:
            session = Session(proc, log)
            yield session
        finally:
            if session is not None:
                session.close()
            elif proc.poll() is None:
                proc.kill()
                proc.wait(5)
