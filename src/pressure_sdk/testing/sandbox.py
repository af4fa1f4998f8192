"""Base of the platform sandboxes: stateful fake APIs on localhost.

A platform sandbox subclasses :class:`Sandbox`, declares its routes with :func:`route`,
and says how the platform authenticates, rate-limits and writes its error bodies. The
base gives every sandbox the same machinery: a threaded HTTP server on a free port, a
request log, per-bucket rate budgets that answer 429 with the platform's headers, and
fault injection (5xx, timeouts, dropped connections, malformed bodies, revoked
credentials) for tests.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from requests.structures import CaseInsensitiveDict

from .exports import find_demo

FAULT_KINDS = ("status", "timeout", "drop", "malformed", "rate_limit", "revoke")


@dataclass
class SandboxRequest:
    """One request as a route handler sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    #: named groups of the route's pattern
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The last value of query parameter ``name``, or ``default``."""
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        """The JSON body; a body that is not JSON raises :class:`BadRequest`."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise BadRequest("the request body is not valid JSON") from None


@dataclass
class Reply:
    """A route handler's answer: status, JSON body and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    """Raised by a route handler: answered with the platform's 400 error body."""

    def __init__(self, message: str, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class Recorded:
    """One request the sandbox answered, kept in its request log."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


@dataclass
class Fault:
    """A fault to inject into matching requests (see :meth:`Sandbox.inject`)."""

    kind: str
    times: int = 1
    path: str | None = None
    method: str | None = None
    status: int = 500
    #: seconds a ``timeout`` fault holds the answer back
    delay: float = 5.0
    #: seconds a ``rate_limit`` fault asks the client to wait
    retry_after: float = 1.0
    #: matching requests let through before the fault starts
    skip: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether the fault applies to a request (its path contains ``path``, same method)."""
        return (self.path is None or self.path in path) and (self.method is None or method == self.method)


def route(method: str, pattern: str) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
    """Declare a handler for ``method`` on a path regex (named groups become ``request.params``)."""

    def mark(fn: Callable[..., Reply]) -> Callable[..., Reply]:
        fn.__sandbox_route__ = (method.upper(), re.compile(f"^{pattern}$"))  # type: ignore[attr-defined]
        return fn

    return mark


class Sandbox:
    """A stateful fake of one platform's API subset, served over real HTTP on localhost."""

    #: the platform's name (``pressure-sync sandbox <platform>``)
    platform: ClassVar[str] = ""
    #: prefix every route lives under (e.g. ``/v3`` for Brevo)
    prefix: ClassVar[str] = ""
    #: whether a path with a trailing slash reaches the route without it, as on platforms that
    #: document both spellings (HubSpot's reference writes ``POST /crm/v3/lists/``)
    trailing_slash: ClassVar[bool] = False
    #: the demo brand whose exports ``--seed demo`` loads (examples/demo/data/<brand>)
    demo_brand: ClassVar[str] = ""
    #: default rate budgets per bucket: ``{bucket: (requests, window seconds)}``
    default_limits: ClassVar[Mapping[str, tuple[int, float]]] = {}
    _routes: ClassVar[list[tuple[str, re.Pattern[str], str]]]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        routes = []
        for klass in reversed(cls.__mro__):
            for name, fn in vars(klass).items():
                spec = getattr(fn, "__sandbox_route__", None)
                if spec:
                    routes.append((spec[0], spec[1], name))
        cls._routes = routes

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Mapping[str, tuple[int, float]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.port = port
        self.limits = dict(self.default_limits if limits is None else limits)
        self.clock = clock
        self.lock = threading.RLock()
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        #: every fault that fired, as ``(kind, method, path)``, so a test can say it happened
        self.fired: list[tuple[str, str, str]] = []
        self.revoked = False
        self._windows: dict[str, tuple[float, int]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what a platform sandbox defines ----------------------------------------------

    def authenticate(self, request: SandboxRequest) -> Reply | None:
        """None if the request carries a valid credential, else the platform's 401 reply."""
        raise NotImplementedError

    def error(self, status: int, message: str, code: str | None = None) -> Reply:
        """The platform's error body for ``status``."""
        return Reply(status, {"message": message, "code": code or "error"})

    def bucket(self, path: str) -> str:
        """Which rate budget a path counts against."""
        return "default"

    def rate_headers(self, bucket: str, limit: int, remaining: int, reset: float) -> dict[str, str]:
        """The platform's rate-limit headers on every answer of a limited bucket."""
        return {}

    def rate_limited(self, bucket: str, reset: float) -> Reply:
        """The platform's 429 answer."""
        return Reply(429, {"message": "rate limit"}, {"Retry-After": str(max(1, round(reset)))})

    def load_exports(self, folder: Path) -> None:
        """Seed contacts and events from an export folder in the files connector's format."""
        raise NotImplementedError

    def seed(self, source: str) -> None:
        """``demo`` (the demo brand's exports, found from the current folder) or a folder path."""
        folder = find_demo(self.demo_brand) if source == "demo" else Path(source)
        if not folder.is_dir():
            msg = f"--seed {source}: not a folder of exports"
            raise FileNotFoundError(msg)
        self.load_exports(folder)

    @property
    def credential(self) -> str:
        """A credential this sandbox accepts (what a workspace's env variable should hold)."""
        raise NotImplementedError

    def use_credential(self, value: str) -> None:
        """Accept ``value`` instead of the default credential (a fixed one for scripts)."""
        raise NotImplementedError

    # -- test controls ---------------------------------------------------------------

    def inject(
        self, kind: str, *, times: int = 1, path: str | None = None, method: str | None = None, **kw: Any
    ) -> None:
        """Make the next ``times`` matching requests fail as ``kind`` (see FAULT_KINDS).

        ``path`` matches any request path containing it; ``skip=n`` lets ``n`` matching
        requests through first.
        """
        if kind not in FAULT_KINDS:
            msg = f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}"
            raise ValueError(msg)
        with self.lock:
            self.faults.append(Fault(kind, times, path, method.upper() if method else None, **kw))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self.lock:
            self.faults.clear()

    def revoke(self, revoked: bool = True) -> None:
        """Refuse the credential from now on (a token revoked or expired mid-run)."""
        self.revoked = revoked

    def count(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        """Requests seen so far, optionally only those matching method, a path part and status."""
        with self.lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path is None or path in r.path)
                and (status is None or r.status == status)
            )

    # -- serving ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL a connector's ``base_url`` should point at."""
        return f"http://{self.host}:{self.port}{self.prefix}"

    def bind(self) -> Sandbox:
        """Listen on the port now; connections wait in the backlog until serving starts."""
        if self._server is None:
            self._server = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
            self._server.daemon_threads = True
            self.port = self._server.server_address[1]
        return self

    def start(self) -> Sandbox:
        """Serve from a background thread (tests)."""
        server = self.bind()._server
        assert server is not None
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=f"sandbox-{self.platform}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the CLI)."""
        server = self.bind()._server
        assert server is not None
        try:
            server.serve_forever()
        finally:
            server.server_close()
            self._server = None

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch --------------------------------------------------------------------

    def handle(self, request: SandboxRequest) -> tuple[Reply, Fault | None]:
        """Answer one request: faults, then auth, then the rate budget, then the route."""
        fault = self._take_fault(request)
        if fault is not None and fault.kind == "revoke":
            # the credential is revoked from this request on (a token revoked mid-run)
            self.revoked, fault = True, None
        if fault is not None and fault.kind == "status":
            return self.error(fault.status, "injected failure"), None
        if fault is not None and fault.kind == "rate_limit":
            reply = self.rate_limited(self.bucket(request.path), fault.retry_after)
            return reply, None
        denied: Reply | None
        if self.revoked:
            denied = self.error(401, "the credential was revoked")
        else:
            denied = self.authenticate(request)
        if denied is not None:
            return denied, fault
        bucket = self.bucket(request.path)
        headers: dict[str, str] = {}
        if bucket in self.limits:
            limit, window = self.limits[bucket]
            now = self.clock()
            with self.lock:
                start, used = self._windows.get(bucket, (now, 0))
                if now - start >= window:
                    start, used = now, 0
                used += 1
                self._windows[bucket] = (start, used)
            reset = max(0.0, start + window - now)
            if used > limit:
                return self.rate_limited(bucket, reset), fault
            headers = self.rate_headers(bucket, limit, limit - used, reset)
        reply = self._dispatch(request)
        reply.headers = {**headers, **reply.headers}
        return reply, fault

    def _take_fault(self, request: SandboxRequest) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.times > 0 and f.matches(request.method, request.path):
                    if f.skip > 0:
                        f.skip -= 1
                        continue
                    f.times -= 1
                    if f.times == 0:
                        self.faults.remove(f)
                    self.fired.append((f.kind, request.method, request.path))
                    return f
        return None

    def _dispatch(self, request: SandboxRequest) -> Reply:
        allowed = False
        path = request.path[len(self.prefix) :] if request.path.startswith(self.prefix) else "\0"
        if self.trailing_slash and len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        for method, pattern, name in self._routes:
            m = pattern.match(path)
            if not m:
                continue
            allowed = True
            if method != request.method:
                continue
            request.params = {k: unquote(v) for k, v in m.groupdict().items()}
            try:
                with self.lock:
                    return getattr(self, name)(request)
            except BadRequest as exc:
                return self.error(exc.status, str(exc), exc.code)
        if allowed:
            return self.error(405, f"method {request.method} not allowed on {request.path}")
        return self.error(404, f"no such endpoint: {request.method} {request.path}")


def _make_handler(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body leave in separate writes: without TCP_NODELAY each answer
        # waits ~40 ms for the client's delayed ACK
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
            pass

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = SandboxRequest(
                self.command,
                split.path,
                parse_qs(split.query, keep_blank_values=True),
                CaseInsensitiveDict(self.headers.items()),
                body,
            )
            reply, fault = sandbox.handle(request)
            try:
                recorded_body: Any = json.loads(body) if body else None
            except ValueError:
                recorded_body = body.decode("utf-8", "replace")
            with sandbox.lock:
                sandbox.requests.append(Recorded(self.command, split.path, request.query, recorded_body, reply.status))
            if fault is not None and fault.kind == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if fault is not None and fault.kind == "timeout":
                time.sleep(fault.delay)
            if isinstance(reply.body, bytes):
                payload = reply.body
            elif isinstance(reply.body, str):
                payload = reply.body.encode()
            elif reply.body is None:
                payload = b""
            else:
                payload = json.dumps(reply.body).encode()
            if fault is not None and fault.kind == "malformed":
                payload = payload[: max(1, len(payload) // 2)] or b"{"
            self.send_response(reply.status)
            content_type = reply.headers.pop("Content-Type", "application/json")
            if payload:
                self.send_header("Content-Type", content_type)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815

    return Handler
