"""Plumbing shared by the rater and admin pages: state, limits, sessions, CSRF, rendering.

Every page is rendered on the server with Jinja2 autoescaping, so a model reply that
contains HTML or a script is shown as text. Responses carry a Content-Security-Policy that
allows only the app's own script and stylesheet (no inline script runs even if escaping were
bypassed). Request bodies are capped before they are read: a declared Content-Length over
the limit is refused at once, and a body streamed without one is cut off when it passes it.

Forms are read strictly: URL-encoded UTF-8 (multipart only where a file is uploaded), no NUL
characters, at most 200 fields; anything else is a 4xx, never a guess at the encoding. A
request that still fails in an unforeseen way is answered 500 with the security headers and
logged, never left to the server's bare error page.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from valign.feedback.human.assist import Critic, Responder
from valign.feedback.human.auth import SessionData, Signer
from valign.feedback.human.lockout import Policy
from valign.feedback.human.settings import ServerSettings
from valign.feedback.human.store import Store
from valign.feedback.human.tables import User

SESSION_COOKIE = "valign_session"
LOGIN_COOKIE = "valign_login"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
MAX_FIELDS = 200
log = logging.getLogger("valign.feedback")

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

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


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
    policy: Policy = field(default_factory=Policy)


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
    """Pure ASGI middleware: security headers on every reply, 413 for bodies over the limit
    (the import form gets a larger one), and a 500 with those headers for anything the app
    did not handle."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app, self.limit, self.upload_limit = app, limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"].endswith("/import") else self.limit
        started = False

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

        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    await _plain(with_headers, 400, "invalid Content-Length")
                    return
                if too_big:
                    await _plain(with_headers, 413, f"request body is larger than {limit} bytes")
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HttpError(413, f"request body is larger than {limit} bytes")
            return message

        try:
            await self.app(scope, limited, with_headers)
        except HttpError as exc:  # raised while reading, outside the app's handlers
            if started:
                raise
            await _plain(with_headers, exc.status, exc.message)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await _plain(with_headers, 500, "internal error")


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


async def read_form(
    request: Request, sess: SessionData | None, upload: bool = False
) -> dict[str, Any]:
    """The posted form as a dict (repeated fields as lists under ``name[]``), CSRF checked.
    URL-encoded UTF-8 only, or multipart where ``upload`` (a file) is expected."""
    st = state(request)
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    pairs: list[tuple[str, Any]]
    if ctype == "application/x-www-form-urlencoded":
        pairs = parse_urlencoded(await request.body())
    elif ctype == "multipart/form-data" and upload:
        form = await request.form(max_files=1, max_fields=MAX_FIELDS)
        pairs = list(form.multi_items())
    else:
        wanted = "multipart/form-data" if upload else "application/x-www-form-urlencoded"
        raise HttpError(415, f"send the form as {wanted}")
    out: dict[str, Any] = {}
    for key, value in pairs:
        if "\x00" in key or (isinstance(value, str) and "\x00" in value):
            raise HttpError(400, "the form contains a NUL character")
        out.setdefault(key, []).append(value)
    for key, values in out.items():
        if len(values) == 1 and not key.endswith("[]"):
            out[key] = values[0]
    if sess is not None and not st.signer.check_csrf(sess.sid, out.get("csrf")):
        raise HttpError(403, "the form's security token is missing or stale; reload the page")
    return out


def parse_urlencoded(body: bytes) -> list[tuple[str, str]]:
    """``a=1&b=2`` pairs; raw bytes and percent-escapes must both be UTF-8 (400 otherwise)."""
    try:
        return parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise HttpError(400, "the form is not UTF-8 text") from None
    except ValueError:
        raise HttpError(413, f"the form has more than {MAX_FIELDS} fields") from None


def client_address(request: Request) -> str | None:
    """The client's address, only where trusted proxies are named (it is then the address
    they forwarded; without them one peer address may be a proxy for everyone)."""
    st = state(request)
    if not st.settings.forwarded_allow_ips or request.client is None:
        return None
    return request.client.host


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


def safe_next(url: object) -> str:
    """Only same-site paths after login (no open redirect to another host)."""
    if (
        isinstance(url, str)
        and url.startswith("/")
        and not url.startswith("//")
        and "\\" not in url
    ):
        return url
    return "/"
