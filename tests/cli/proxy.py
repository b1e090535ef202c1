"""A TCP proxy in front of the gateway for the CLI tests: it slows the client-to-gateway direction to a set
rate (so a test can interrupt an upload half-way), counts the bytes it forwarded to the gateway, and can
drop every open connection at once (a lost network, as the client sees it)."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress

CHUNK = 64 * 1024


class ThrottledProxy:
    def __init__(self, rate: float | None = None) -> None:
        self.rate = rate                  # bytes per second towards the gateway; None = as fast as it goes
        self.target_port = 0
        self.forwarded = 0                # bytes handed to the gateway
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
        try:
            while data := source.recv(CHUNK):
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
        with self.lock:
            self.forwarded = 0

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        self.drop()
