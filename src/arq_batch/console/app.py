"""The console's web app: its parts in one ``Console``, the routes, the headers every
answer carries, and ``serve``.

Pages are server-rendered Jinja2 with autoescaping (every value from the bucket is
escaped by the template), styles and the one small script are served from the package,
so the console works offline and in a locked-down VPC, and reads fine without scripts.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arq_batch.console.audit import AuditLog
from arq_batch.console.guard import SESSION_COOKIE, Guard
from arq_batch.console.source import Source
from arq_batch.kernel.errors import ArqError
from arq_batch.kernel.ports import DeadLetterQueue, ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.models.store import ModelStore
from arq_batch.reports.pages import cell

logger = logging.getLogger(__name__)

# Our pages run only our own script and styles; reports from the bucket run nothing.
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
               "form-action 'self'; base-uri 'none'")
REPORT_POLICY = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                 "frame-ancestors 'none'")


@dataclass(frozen=True)
class Console:
    """Everything a request may use, made once at start-up."""

    settings: Settings
    store: ObjectStore
    queue: DeadLetterQueue
    models: ModelStore
    source: Source
    guard: Guard
    audit: AuditLog


_TEMPLATES = Environment(loader=PackageLoader("arq_batch.console", "templates"),
                         autoescape=True, trim_blocks=True, lstrip_blocks=True)
_TEMPLATES.globals["cell"] = cell


def console_of(request: Request) -> Console:
    """The console a request belongs to."""
    console: Console = request.app.state.console
    return console


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page: the template with what every page needs (sign-in state, CSRF field)."""
    console = console_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    signed_in = console.guard.session_ok(cookie)
    html = _TEMPLATES.get_template(template).render(
        path=request.url.path, changes=console.guard.enabled, signed_in=signed_in,
        csrf=console.guard.csrf_for(cookie) if signed_in and cookie else "", **values)
    return HTMLResponse(html, status_code=status)


class Headers:
    """Adds the content policy and friends to every answer that has none of its own, and
    ``Server-Timing`` (the time until the answer started: what the page cost the server)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                spent = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={spent:.1f}".encode()))
                names = {name.lower() for name, _ in headers}
                extra = {b"content-security-policy": PAGE_POLICY.encode(),
                         b"x-content-type-options": b"nosniff",
                         b"referrer-policy": b"same-origin", b"x-frame-options": b"DENY",
                         b"cache-control": b"no-store"}
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, with_headers)


def create_app(console: Console) -> Starlette:
    """Every page, action and asset of contract section 13's console."""
    from arq_batch.console import changes, downloads, pages

    static = Path(__file__).parent / "static"
    app = Starlette(routes=[
        *pages.routes(), *changes.routes(), *downloads.routes(),
        Route("/healthz", _healthz, methods=["GET"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ], exception_handlers={404: _not_found, 405: _not_allowed, ArqError: _unavailable})
    app.state.console = console
    app.add_middleware(Headers)
    return app


def _healthz(request: Request) -> Response:
    return Response("ok\n", media_type="text/plain")


async def _not_found(request: Request, exc: Exception) -> Response:
    return render(request, "message.html", 404, title="Not found",
                  message=f"Nothing at {request.url.path}.")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return render(request, "message.html", 405, title="Method not allowed",
                  message=f"{request.method} is not allowed on {request.url.path}.")


async def _unavailable(request: Request, exc: Exception) -> Response:
    """What the bucket, a queue or the SQL engine refused: a page that says so (503), not
    a bare 500; the details go to the log."""
    logger.warning("page %s failed: %s", request.url.path, exc,
                   extra={"event": "console_page_failed", "error": type(exc).__name__})
    kind = getattr(exc, "kind", "error")
    return render(request, "message.html", 503, title="Not available right now",
                  message=f"The page could not be read ({kind}: {exc}). Try again shortly.")


def serve(console: Console, host: str, port: int) -> None:
    """Run until SIGTERM/SIGINT."""
    logger.info("console on http://%s:%d (changes %s)", host, port,
                "need the token" if console.guard.enabled else "off: no token",
                extra={"event": "console_serving"})
    threading.Thread(target=console.source.warm, name="warm", daemon=True).start()
    uvicorn.Server(uvicorn.Config(create_app(console), host=host, port=port,
                                  log_level="warning", access_log=False,
                                  timeout_graceful_shutdown=5)).run()


def from_settings(settings: Settings, token: str | None) -> Console:
    """The console's parts over the configured bucket and queues."""
    from arq_batch import wiring
    from arq_batch.query.engine import QueryEngine

    store = wiring.object_store(settings)

    def engine() -> QueryEngine:
        return QueryEngine(settings, wiring.query_connection(settings), store,
                           keep_local=frozenset({"jobs", "violations"}))

    return Console(settings, store, wiring.job_queue(settings),
                   wiring.model_store(settings, store), Source(engine, settings.console),
                   Guard(token, settings.console.session_hours * 3600),
                   AuditLog(store, settings.bucket, settings.prefixes.audit))
