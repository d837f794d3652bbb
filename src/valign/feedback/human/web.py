"""Plumbing shared by the rater and admin pages: state, limits, sessions, CSRF, rendering.

Every page is rendered on the server with Jinja2 autoescaping, so a model reply that
contains HTML or a script is shown as text. Responses carry a Content-Security-Policy that
allows only the app's own script and stylesheet (no inline script runs even if escaping were
bypassed). Request bodies are capped before they are read: a declared Content-Length over
the limit is refused at once, and a body streamed without one is cut off when it passes it.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from valign.feedback.human.assist import Critic, Responder
from valign.feedback.human.auth import SessionData, Signer
from valign.feedback.human.settings import ServerSettings
from valign.feedback.human.store import Store
from valign.feedback.human.tables import User

SESSION_COOKIE = "valign_session"
LOGIN_COOKIE = "valign_login"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class HttpError(Exception):
    """Stops a request with a status and a message shown on the error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class LoginRequired(Exception):
    """A page that needs a login was asked for without one: go to the login page."""


@dataclass
class AppState:
    store: Store
    settings: ServerSettings
    signer: Signer
    env: jinja2.Environment
    critic: Critic | None = None
    responder: Responder | None = None
    principle_texts: dict[str, str] = field(default_factory=dict)
    category_names: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda x: "–" if x is None else f"{100 * x:.0f}%"
    env.filters["num"] = lambda x, d=2: "–" if x is None else f"{x:.{d}f}"
    return env


def state(request: Request) -> AppState:
    st: AppState = request.app.state.valign
    return st


# --------------------------------------------------------------------------- body limit


class Guard:
    """Pure ASGI middleware: security headers on every reply, and 413 for bodies over the
    limit (the import form gets a larger one)."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app, self.limit, self.upload_limit = app, limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"].endswith("/import") else self.limit
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    await _plain(send, 400, "invalid Content-Length")
                    return
                if too_big:
                    await _plain(send, 413, f"request body is larger than {limit} bytes")
                    return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HttpError(413, f"request body is larger than {limit} bytes")
            return message

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.encode(), v.encode())
                    for k, v in SECURITY_HEADERS.items()
                    if k.encode() not in have
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, limited, with_headers)
        except HttpError as exc:  # raised while reading, outside the app's handlers
            if started:
                raise
            await _plain(with_headers, exc.status, exc.message)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- sessions


def session_of(request: Request) -> tuple[User, SessionData] | None:
    st = state(request)
    data = st.signer.read_session(request.cookies.get(SESSION_COOKIE))
    if data is None:
        return None
    with st.store.session() as s:
        user = s.get(User, data.user_id)
    if user is None or not user.active or user.session_version != data.version:
        return None
    return user, data


def require_user(request: Request, admin: bool = False) -> tuple[User, SessionData]:
    found = session_of(request)
    if found is None:
        if request.method == "GET":
            raise LoginRequired()
        raise HttpError(401, "your session has ended; log in again")
    if admin and found[0].role != "admin":
        raise HttpError(403, "this page is for admins")
    return found


async def read_form(request: Request, sess: SessionData | None) -> dict[str, Any]:
    """The posted form as a dict (repeated fields as lists under ``name[]``), CSRF checked."""
    st = state(request)
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise HttpError(415, "send the form as application/x-www-form-urlencoded")
    form = await request.form(max_files=1, max_fields=200)
    out: dict[str, Any] = {}
    for key in form:
        values = form.getlist(key)
        out[key] = values[0] if len(values) == 1 and not key.endswith("[]") else values
    if sess is not None and not st.signer.check_csrf(sess.sid, out.get("csrf")):
        raise HttpError(403, "the form's security token is missing or stale; reload the page")
    return out


def too_many_failures(st: AppState, key: str, limit: int = 10, window_s: float = 300.0) -> bool:
    now = time.monotonic()
    q = st.failures[key]
    while q and q[0] < now - window_s:
        q.popleft()
    return len(q) >= limit


# --------------------------------------------------------------------------- rendering


def render(
    request: Request,
    template: str,
    status: int = 200,
    user: User | None = None,
    sess: SessionData | None = None,
    **ctx: Any,
) -> HTMLResponse:
    st = state(request)
    html = st.env.get_template(template).render(
        user=user,
        csrf=st.signer.csrf_token(sess.sid) if sess else "",
        path=request.url.path,
        **ctx,
    )
    return HTMLResponse(html, status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None) -> str:
    """Only same-site paths after login (no open redirect to another host)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/"
