"""A TCP proxy in front of the gateway for the CLI tests: it slows the client-to-gateway direction to a set
rate (so a test can interrupt an upload half-way), counts the bytes it forwarded to the gateway, keeps the
head (method, path, header fields) of the first request on each connection (the uploader's urllib sends
``Connection: close``, so that is every request it makes), and can drop every open connection at once (a
lost network, as the client sees it)."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress
from dataclasses import dataclass

CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]   # names lower-cased

    @classmethod
    def parse(cls, head: bytes) -> SeenRequest:
        line, *fields = head.decode("latin-1").split("\r\n")
        method, path, _ = line.split(" ", 2)
        headers = {}
        for field in fields:
            name, _, value = field.partition(":")
            headers[name.strip().lower()] = value.strip()
        return cls(method, path, headers)


class ThrottledProxy:
    def __init__(self, rate: float | None = None) -> None:
        self.rate = rate                  # bytes per second towards the gateway; None = as fast as it goes
        self.target_port = 0
        self.forwarded = 0                # bytes handed to the gateway
        self.requests: list[SeenRequest] = []
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        with self.lock:
            self.sockets.update((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
        self._pump(client, upstream, True)

    def _pump(self, source: socket.socket, sink: socket.socket, towards_gateway: bool) -> None:
        head: bytes | None = b"" if towards_gateway else None
        try:
            while data := source.recv(CHUNK):
                if head is not None:
                    head += data
                    if b"\r\n\r\n" in head:
                        with self.lock:
                            self.requests.append(SeenRequest.parse(head.split(b"\r\n\r\n", 1)[0]))
                        head = None
                    elif len(head) > MAX_HEAD:
                        head = None
                rate = self.rate
                if towards_gateway and rate:
                    time.sleep(len(data) / rate)
                sink.sendall(data)
                if towards_gateway:
                    with self.lock:
                        self.forwarded += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with suppress(OSError):
                    sock.close()
            with self.lock:
                self.sockets.difference_update((source, sink))

    def drop(self) -> int:
        """Cut every open connection (both sides see the connection end mid-request); how many sockets."""
        with self.lock:
            open_sockets = list(self.sockets)
        for sock in open_sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(open_sockets)

    def reset_count(self) -> None:
        """Start counting forwarded bytes, and keeping request heads, afresh."""
        with self.lock:
            self.forwarded = 0
            self.requests = []

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        self.drop()
