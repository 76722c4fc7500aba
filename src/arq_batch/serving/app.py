"""``arq-batch serve``: the real-time endpoint, a thin HTTP adapter over ``serving.invocations``."""

from __future__ import annotations

import asyncio
import json
import logging

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from arq_batch.kernel.settings import ServeSettings
from arq_batch.models.artifacts import Model
from arq_batch.serving.invocations import RequestError, invocations

logger = logging.getLogger(__name__)


def create_app(model: Model, max_body_bytes: int, body_timeout: float = 60.0) -> Starlette:
    """GET /ping, POST /invocations and POST /endpoints/<name>/invocations."""
    scorer = model.scorer
    order = model.card.feature_names
    health = json.dumps({"status": "ok", "run_id": model.card.run_id}).encode()

    async def ping(request: Request) -> Response:
        return Response(health, media_type="application/json")

    async def invoke(request: Request) -> Response:
        declared = request.headers.get("content-length", "0")
        if declared.isdigit() and int(declared) > max_body_bytes:
            return _error(413, f"body exceeds {max_body_bytes} bytes")
        try:
            async with asyncio.timeout(body_timeout):
                body = await _read_body(request, max_body_bytes)
        except TimeoutError:
            return _error(408, f"request body not received within {body_timeout:g} s")
        if body is None:
            return _error(413, f"body exceeds {max_body_bytes} bytes")
        try:
            data, media = invocations(body, request.headers.get("content-type", ""),
                                      request.headers.get("accept", ""), scorer, order)
        except RequestError as exc:
            return _error(exc.status, str(exc))
        except Exception:  # the server must outlive any request
            logger.exception("invocation failed", extra={"event": "invocation_error"})
            return _error(500, "internal error while scoring")
        return Response(data, media_type=media)

    return Starlette(routes=[
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invoke, methods=["POST"]),
        Route("/endpoints/{name}/invocations", invoke, methods=["POST"]),
    ])


async def _read_body(request: Request, limit: int) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status_code=status,
                    media_type="application/json")


def server_config(model: Model, settings: ServeSettings, host: str, port: int) -> uvicorn.Config:
    """uvicorn as the endpoint runs it, with its limits on slow or too many clients.

    A slow body meets ``body_timeout_seconds`` (408). uvicorn has no timeout for request
    headers: a client that trickles them holds its connection, which costs the event loop
    nothing while it waits, and ``max_connections`` bounds how many can (503 beyond).
    """
    app = create_app(model, settings.max_body_bytes, settings.body_timeout_seconds)
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          timeout_graceful_shutdown=10, limit_concurrency=settings.max_connections,
                          timeout_keep_alive=settings.keep_alive_seconds)


def serve(model: Model, settings: ServeSettings, host: str, port: int) -> None:
    """Run the endpoint until SIGTERM/SIGINT (uvicorn drains open requests, then exits)."""
    logger.info("serving model %s on http://%s:%d", model.card.run_id, host, port,
                extra={"event": "serving", "run_id": model.card.run_id})
    uvicorn.Server(server_config(model, settings, host, port)).run()
