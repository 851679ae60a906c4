"""A lean HTTP/1.1 client for the load generators of bench/e2e_http.py.

The benchmark must measure the server, not itself: httpx cost ~3 ms of CPU per request here
(request/response objects, header models, URL parsing, JSON through its own layers), more than
the server's own work on a completion. This client keeps one persistent keep-alive socket,
sends requests whose bytes are built once (only the varying part is formatted in), and parses
the answer's status line and Content-Length (or chunked body) by hand. One connection serves
one thread at a time, as a blocking socket.
"""

from __future__ import annotations

import base64
import socket


class Closed(Exception):
    """The server closed the connection (or sent something this client does not read)."""


class Connection:
    """One keep-alive connection to `host:port`; `request` returns (status, headers block, body)."""

    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf = sock, b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock, self.buf = None, b""

    def request(self, raw: bytes) -> tuple[int, bytes, bytes]:
        """Send one pre-built request; reconnects once if a kept-alive socket turns out closed."""
        fresh = self.sock is None
        sock = self.sock or self._connect()
        try:
            sock.sendall(raw)
            return self._answer(sock)
        except (Closed, OSError):
            self.close()
            if fresh:
                raise
        sock = self._connect()  # the server dropped an idle keep-alive connection: once more, on a new one
        try:
            sock.sendall(raw)
            return self._answer(sock)
        except (Closed, OSError):
            self.close()
            raise

    def _answer(self, sock: socket.socket) -> tuple[int, bytes, bytes]:
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = sock.recv(65536)
            if not chunk:
                raise Closed("closed before the headers")
            buf += chunk
        head = buf[:end]
        buf = buf[end + 4:]
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            stop = lower.find(b"\r\n", at + 2)
            n = int(lower[at + 17:stop if stop > 0 else len(lower)])
            while len(buf) < n:
                chunk = sock.recv(max(65536, n - len(buf)))
                if not chunk:
                    raise Closed("closed inside the body")
                buf += chunk
            body, buf = buf[:n], buf[n:]
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body, buf = self._chunked(sock, buf)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            raise Closed("an answer without Content-Length or chunks")
        if b"\r\nconnection: close" in lower:
            self.close()
        else:
            self.buf = buf
        return status, head, body

    @staticmethod
    def _chunked(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes]:
        parts = []
        while True:
            while b"\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise Closed("closed inside a chunk size")
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            size = int(line.split(b";", 1)[0], 16)
            while len(buf) < size + 2:
                chunk = sock.recv(65536)
                if not chunk:
                    raise Closed("closed inside a chunk")
                buf += chunk
            if size == 0:
                # No trailers are sent by the servers measured here: the final CRLF ends the body.
                return b"".join(parts), buf[2:]
            parts.append(buf[:size])
            buf = buf[size + 2:]


def request_prefix(method: str, path: str, host: str, port: int, auth: tuple[str, str]) -> bytes:
    """The fixed part of a JSON request, up to (not including) its Content-Length value."""
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic {token}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: ").encode()


def build(prefix: bytes, body: bytes) -> bytes:
    return prefix + str(len(body)).encode() + b"\r\n\r\n" + body


def header(head: bytes, name: bytes) -> bytes | None:
    """One header's value from a headers block (name in lower case), or None."""
    lower = head.lower()
    at = lower.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    start = at + len(name) + 3
    stop = lower.find(b"\r\n", start)
    return head[start:stop if stop > 0 else None].strip()
