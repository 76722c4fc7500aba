"""Who may change things: the token, a sign-in cookie, and the CSRF field of its forms.

A request carrying ``Authorization: Bearer <token>`` is a script's: it needs nothing
else. A browser signs in once with the token and gets a session cookie (HttpOnly,
SameSite=Strict) that holds no secret, only a random nonce, an expiry and their HMAC
under the token; each form it posts carries a CSRF field, the HMAC of that session.
Nothing is stored server-side, so a rotated token ends every session at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SESSION_COOKIE = "arq_console_session"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Verdict:
    """Whether a change may go ahead; if not, the status to answer and why."""

    allowed: bool
    status: int = 200
    reason: str = ""
    actor: str = ""  # who, for the audit record: "bearer token" or "session <nonce>"


class Guard:
    """Checks tokens, issues sessions, authorizes change requests."""

    def __init__(self, token: str | None, session_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = token.encode() if token else None
        self._lifetime, self._clock = session_seconds, clock

    @property
    def enabled(self) -> bool:
        """Whether any change is possible (a token was configured)."""
        return self._key is not None

    def token_matches(self, offered: str) -> bool:
        """Constant-time comparison with the configured token."""
        return self._key is not None and hmac.compare_digest(offered.encode(), self._key)

    def new_session(self) -> str:
        """A cookie value: nonce, expiry, and their signature."""
        payload = f"{secrets.token_urlsafe(16)}.{int(self._clock() + self._lifetime)}"
        return f"{payload}.{self._sign('session', payload)}"

    def session_ok(self, cookie: str | None) -> bool:
        """Whether the cookie is one we issued and has not expired."""
        if not cookie or self._key is None or cookie.count(".") != 2:
            return False
        payload, _, signature = cookie.rpartition(".")
        expiry = payload.rpartition(".")[2]
        return (hmac.compare_digest(signature, self._sign("session", payload))
                and expiry.isdigit() and int(expiry) > self._clock())

    def csrf_for(self, cookie: str) -> str:
        """The CSRF field that forms of this session carry."""
        return self._sign("csrf", cookie)

    def authorize(self, headers: Mapping[str, str], cookies: Mapping[str, str],
                  csrf: str | None) -> Verdict:
        """Bearer token, or a live session whose form carries its CSRF field."""
        if self._key is None:
            return Verdict(False, 403, "changes are off: the console was started without "
                                       "ARQ_BATCH_CONSOLE_TOKEN")
        if authorization := headers.get("authorization", ""):
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and self.token_matches(value.strip()):
                return Verdict(True, actor="bearer token")
            return Verdict(False, 401, "the Authorization header does not hold the token")
        cookie = cookies.get(SESSION_COOKIE)
        if not self.session_ok(cookie):
            return Verdict(False, 401, "sign in first (or send Authorization: Bearer <token>)")
        assert cookie is not None
        if not csrf or not hmac.compare_digest(csrf, self.csrf_for(cookie)):
            return Verdict(False, 403, "the form's CSRF field is missing or stale: "
                                       "reload the page and try again")
        return Verdict(True, actor=f"session {cookie[:8]}")

    def _sign(self, purpose: str, text: str) -> str:
        assert self._key is not None
        return hmac.new(self._key, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()
