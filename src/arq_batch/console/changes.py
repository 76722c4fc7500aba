"""Changes (POST): promote, rollback, redrive; and signing in and out.

Every change is an HTML form that works without JavaScript, so scripts and curl use the
same forms (with ``Authorization: Bearer``). The order is fixed: authorize (401/403,
nothing changes), confirm a model move (a page that asks, nothing changes yet), act,
write the audit record, answer.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from arq_batch.console.app import Console, console_of, render
from arq_batch.console.guard import CSRF_FIELD, SESSION_COOKIE, Verdict
from arq_batch.feeders.dlq import redrive
from arq_batch.kernel.errors import ArqError
from arq_batch.models import registry
from arq_batch.models.store import move

MAX_FORM_BYTES = 64 * 1024


class NoSuchLetter(ArqError):
    """A redrive of one message that is not (or no longer) in the dead-letter queue."""

    kind = "no_such_message"


@dataclass(frozen=True)
class Form:
    """A posted form, parsed: one value per field (the first), nothing else."""

    fields: dict[str, str]

    def get(self, name: str) -> str:
        """The field's value, or ''."""
        return self.fields.get(name, "")


def routes() -> list[Route]:
    """The POST routes, and the sign-in page."""
    return [Route("/signin", signin_page, methods=["GET"]),
            Route("/signin", signin, methods=["POST"]),
            Route("/signout", signout, methods=["POST"]),
            Route("/models/promote", promote, methods=["POST"]),
            Route("/models/rollback", rollback, methods=["POST"]),
            Route("/dlq/redrive", redrive_letters, methods=["POST"])]


async def read_form(request: Request) -> Form:
    """An urlencoded body (what our forms and curl's ``-d`` send), at most 64 KB."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return Form({})
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return Form({k: v[0] for k, v in parsed.items()})


def signin_page(request: Request) -> Response:
    """The sign-in form."""
    return render(request, "signin.html", next=_local(request.query_params.get("next", "/")),
                  error="")


async def signin(request: Request) -> Response:
    """Token in, session cookie out (HttpOnly, SameSite=Strict; Secure over HTTPS)."""
    console, form = console_of(request), await read_form(request)
    if not console.guard.token_matches(form.get("token")):
        return render(request, "signin.html", 401, next=_local(form.get("next")),
                      error="That is not the console's token." if console.guard.enabled
                      else "Changes are off: the console was started without a token.")
    answer = RedirectResponse(_local(form.get("next")), status_code=303)
    answer.set_cookie(SESSION_COOKIE, console.guard.new_session(), httponly=True,
                      samesite="strict", secure=_https(request), path="/",
                      max_age=int(console.settings.console.session_hours * 3600))
    return answer


async def signout(request: Request) -> Response:
    """Forget the session cookie."""
    answer = RedirectResponse("/", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer


async def promote(request: Request) -> Response:
    """Point latest.json at a run (after its hashes check), once confirmed."""
    form = await read_form(request)
    run_id = form.get("run_id")
    return await _change(request, form, "promote", run_id, lambda c, actor: _move(
        c, run_id, "promote", actor), confirm=lambda c: f"Point latest.json at run {run_id}?")


async def rollback(request: Request) -> Response:
    """Back to the run promoted before the current one, once confirmed."""
    form = await read_form(request)
    return await _change(request, form, "rollback", "latest.json", lambda c, actor: _move(
        c, _previous(c), "rollback", actor), confirm=lambda c: "Roll latest.json back to "
                                                               f"run {_previous(c)}?")


async def redrive_letters(request: Request) -> Response:
    """Move one dead letter (``message_id``) or all of them back to the job queue."""
    form = await read_form(request)
    only = form.get("message_id") or None
    return await _change(request, form, "redrive" if only else "redrive-all",
                         only or "all", lambda c, actor: _redrive(c, only))


async def _change(request: Request, form: Form, action: str, target: str,
                  act: Callable[[Console, str], str],
                  confirm: Callable[[Console], str] | None = None) -> Response:
    console = console_of(request)
    verdict = console.guard.authorize(request.headers, request.cookies, form.get(CSRF_FIELD))
    if not verdict.allowed:
        return _refused(request, verdict)
    if confirm and form.get("confirm") != "yes":
        try:
            question = await run_in_threadpool(confirm, console)
        except ArqError as exc:  # nothing to roll back to, say: no question to ask
            return render(request, "message.html", 409, title="Cannot do that",
                          message=str(exc))
        return render(request, "confirm.html", question=question, action=request.url.path,
                      fields={k: v for k, v in form.fields.items() if k != CSRF_FIELD})
    try:
        result = await run_in_threadpool(act, console, verdict.actor)
        status = 200
    except ArqError as exc:
        result, status = f"failed: {exc}", 409
    record = await run_in_threadpool(console.audit.record, action, target, _source(request),
                                     verdict.actor, result)
    return render(request, "done.html", status, record=record)


def _move(console: Console, run_id: str, action: str, actor: str) -> str:
    record = move(console.models, console.store, console.settings, run_id,
                  by=f"console ({actor}, {getpass.getuser()})", action=action,
                  reason=f"console {action}")
    return f"latest.json: {record.from_run or 'nothing'} -> {record.to_run}"


def _redrive(console: Console, only: str | None) -> str:
    moved = redrive(console.queue, only)
    if only and not moved:
        raise NoSuchLetter(f"no message {only} in the dead-letter queue (redriven already?)")
    return f"{moved} message(s) moved to the job queue"


def _previous(console: Console) -> str:
    s = console.settings
    return registry.previous_run(registry.history(console.store, s),
                                 registry.current_run(console.store, s))


def _refused(request: Request, verdict: Verdict) -> Response:
    return render(request, "message.html", verdict.status, title="Not allowed",
                  message=verdict.reason, signin=verdict.status == 401)


def _source(request: Request) -> str:
    """The client as the console saw it, and who a proxy says it was for."""
    client = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for", "")
    return f"{client} (for {forwarded})" if forwarded else client


def _https(request: Request) -> bool:
    return (request.url.scheme == "https"
            or request.headers.get("x-forwarded-proto", "") == "https")


def _local(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    return target if target.startswith("/") and target[1:2] not in ("/", "\\") else "/"
