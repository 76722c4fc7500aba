"""A fault-injecting HTTP proxy in front of the moto server.

Requests go on to moto, which still answers them. A rule that matches a request changes
that: an S3 or SQS error status in moto's place, a connection reset once moto has acted
(before, after the response headers, or half-way through the body), a request dropped
half-way through its own body before moto sees it, or a delay. Rules match by method, a
regular expression on the path (and, for SQS's JSON protocol, the X-Amz-Target action)
and fire a bounded number of times, or on a seeded random share of matching requests.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

S3_ERRORS = {500: "InternalError", 503: "SlowDown", 403: "AccessDenied"}
SQS_ERRORS = {500: "InternalFailure", 503: "ServiceUnavailable",
              400: "ThrottlingException"}


@dataclass
class Rule:
    """Spoil matching requests: ``action`` is a status code, "reset", "headers", "cut",
    "drop" or "delay".

    "reset": moto acts but the client never hears back (the ambiguous case: did it happen?).
    "headers": the response's headers arrive, then the connection resets before any of its
    body. "cut": the response body stops half-way. "drop": the request body stops half-way and
    moto never sees the request.
    """

    action: int | str
    method: str = ".*"
    path: str = ".*"
    target: str = ".*"  # X-Amz-Target (SQS actions), "" for S3
    times: int | None = None  # fire at most this often; None: no limit
    share: float = 1.0  # fire on this share of matching requests (seeded)
    delay: float = 2.0
    fired: int = field(default=0, init=False)

    def matches(self, method: str, path: str, target: str, rng: random.Random) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if not (re.fullmatch(self.method, method) and re.search(self.path, path)
                and re.search(self.target, target)):
            return False
        return self.share >= 1.0 or rng.random() < self.share


def flaky_cloud(share: float, delay: float = 1.5) -> list[Rule]:
    """Every fault class together, on about ``share`` of all requests (each request meets
    five of these rules: its service's two errors, a reset, one body fault, the delay)."""
    s3, sqs = r"^/arq-batch-s3", r"^/$"  # SQS's JSON protocol posts to the root
    part = share / 5
    return [
        Rule(500, path=s3, share=part), Rule(503, path=s3, share=part),
        Rule("reset", path=s3, share=part), Rule("drop", method="PUT", path=s3, share=part),
        Rule("cut", method="GET", path=s3, share=part / 2),
        Rule("headers", method="GET", path=s3, share=part / 2),
        Rule(500, path=sqs, share=part), Rule(503, path=sqs, share=part),
        Rule(400, path=sqs, share=part),  # ThrottlingException
        Rule("reset", path=sqs, share=part),
        Rule("delay", share=part, delay=delay),
    ]


class FaultProxy:
    """``with FaultProxy(moto_url, rules) as proxy:`` then point clients at ``proxy.url``."""

    def __init__(self, upstream: str, rules: list[Rule] | None = None, seed: int = 0) -> None:
        self.upstream = urlsplit(upstream)
        self.rules = list(rules or [])
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.faults: dict[str, int] = {}  # action -> times fired
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def pick(self, method: str, path: str, target: str) -> Rule | None:
        """The first rule that fires for this request, counted."""
        with self.lock:
            self.requests += 1
            for rule in self.rules:
                if rule.matches(method, path, target, self.rng):
                    rule.fired += 1
                    key = str(rule.action)
                    self.faults[key] = self.faults.get(key, 0) + 1
                    return rule
        return None


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _any(self) -> None:
            target = self.headers.get("X-Amz-Target", "")
            rule = proxy.pick(self.command, self.path, target)
            if rule is not None and rule.action == "drop":
                self.rfile.read(int(self.headers.get("Content-Length") or 0) // 2)
                return _reset(self)
            body = _read_body(self)
            if rule is not None and rule.action == "delay":
                time.sleep(rule.delay)
                rule = None
            if rule is not None and isinstance(rule.action, int):
                return _answer_error(self, rule.action, bool(target))
            status, headers, payload = _forward(proxy, self, body)
            if rule is not None and rule.action == "reset":
                return _reset(self)
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            length = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
            self.send_header("Content-Length", length if self.command == "HEAD"
                             else str(len(payload)))
            self.end_headers()
            if rule is not None and rule.action in ("headers", "cut") and len(payload) > 1:
                self.wfile.write(payload[: len(payload) // 2 if rule.action == "cut" else 0])
                self.wfile.flush()
                return _reset(self)
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

    return Handler


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline().strip():  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def _forward(proxy: FaultProxy, handler: BaseHTTPRequestHandler,
             body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    up = proxy.upstream
    conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port, timeout=120)
    headers = {k: v for k, v in handler.headers.items()
               if k.lower() not in ("transfer-encoding", "connection", "content-length")}
    headers["Content-Length"] = str(len(body))
    try:
        conn.request(handler.command, handler.path, body=body, headers=headers)
        response = conn.getresponse()
        payload = b"" if handler.command == "HEAD" else response.read()
        return response.status, response.getheaders(), payload
    finally:
        conn.close()


def _answer_error(handler: BaseHTTPRequestHandler, status: int, sqs: bool) -> None:
    if sqs:
        code = SQS_ERRORS.get(status, "InternalFailure")
        body = f'{{"__type": "com.amazonaws.sqs#{code}", "message": "injected"}}'.encode()
        kind = "application/x-amz-json-1.0"
    else:
        code = S3_ERRORS.get(status, "InternalError")
        body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>injected fault</Message></Error>").encode()
        kind = "application/xml"
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    if sqs:
        handler.send_header("x-amzn-query-error", f"{code};Sender")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the client's connection with a TCP RST, at once.

    ``socket.close()`` alone would wait for the handler's file objects to let go of the
    socket, leaving the client hanging until its read timeout rather than seeing a reset.
    """
    handler.close_connection = True
    sock = handler.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    os.close(sock.detach())
