"""The rating server: ``create_app(store)`` returns the FastAPI app ``valign feedback serve`` runs.

Pages (HTML, server-rendered):

``GET  /login``, ``POST /login``, ``POST /logout``      accounts
``GET  /``                                             the rater's projects
``GET  /p/{project}``                                  the next item (or the red-team log)
``GET|POST /p/{project}/i/{item}``                     judge one item
``POST /p/{project}/attempts``                         log (or send) a red-team attempt
``GET  /admin``, ``/admin/p/{project}``                accounts, projects, agreement
``POST /admin/users``, ``/admin/projects``, ``/admin/p/{project}/import``
``GET  /admin/p/{project}/export/{file}``              comparisons.jsonl, agreement.json, ...
``GET  /health``                                       ``{"status": "ok"}``

Errors are pages with the status they name: 400 bad form, 401 no session, 403 CSRF or not
an admin, 404, 405, 409 not assigned or a name taken, 413 too large, 415 not a form,
429 too many failed logins (with Retry-After).

With ``settings.forwarded_allow_ips`` the app reads the client's address from
X-Forwarded-For, but only on connections from those proxies (uvicorn's own trust of
127.0.0.1 is turned off by ``valign feedback serve``).
"""

from __future__ import annotations

import random
import time
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from valign.feedback.human import admin, lockout, pages
from valign.feedback.human.assist import Critic, Responder
from valign.feedback.human.auth import Signer
from valign.feedback.human.forms import FormError
from valign.feedback.human.settings import ServerSettings
from valign.feedback.human.store import Store
from valign.feedback.human.web import (
    STATIC,
    AppState,
    Guard,
    HttpError,
    LoginRequired,
    make_env,
    redirect,
    session_of,
)


def create_app(
    store: Store,
    settings: ServerSettings | None = None,
    *,
    critic: Critic | None = None,
    responder: Responder | None = None,
    principle_texts: dict[str, str] | None = None,
    category_names: dict[str, str] | None = None,
) -> FastAPI:
    """The app over ``store``. ``critic`` turns on AI assistance for projects that ask for
    it; ``responder`` lets red-team raters send attempts to a model; ``principle_texts``
    (id -> text, from the constitution) labels the principle tags."""
    settings = settings or ServerSettings()
    st = AppState(
        store=store,
        settings=settings,
        signer=Signer(store.secret(), int(settings.session_hours * 3600)),
        env=make_env(),
        critic=critic,
        responder=responder,
        principle_texts=dict(principle_texts or {}),
        category_names=dict(category_names or {}),
        rng=random.Random(settings.seed),
        policy=lockout.Policy(
            after=settings.lockout_after,
            address_after=settings.address_lockout_after,
            base_s=settings.lockout_seconds,
            max_s=settings.lockout_max_seconds,
            forget_s=settings.lockout_forget_hours * 3600,
        ),
    )
    lockout.prune(store, st.policy, time.time())
    app = FastAPI(title="valign feedback", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.valign = st
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes)
    if settings.forwarded_allow_ips:
        app.add_middleware(
            ProxyHeadersMiddleware,
            trusted_hosts=list(settings.forwarded_allow_ips),
        )

    def error_page(
        request: Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        found = session_of(request) if status != 401 else None
        html = st.env.get_template("error.html").render(
            user=found[0] if found else None,
            csrf=st.signer.csrf_token(found[1].sid) if found else "",
            path=request.url.path,
            status=status,
            message=message,
        )
        return HTMLResponse(html, status_code=status, headers=headers)

    @app.exception_handler(HttpError)
    async def _http_error(request: Request, exc: HttpError) -> Response:
        return error_page(request, exc.status, exc.message, exc.headers)

    @app.exception_handler(FormError)
    async def _form_error(request: Request, exc: FormError) -> Response:
        return error_page(request, exc.status, exc.message)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return redirect(f"/login?next={quote(request.url.path)}")

    @app.exception_handler(StarletteHTTPException)
    async def _starlette(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "no such page", 405: f"{request.method} is not allowed here"}
        return error_page(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 404 if request.method == "GET" else 400, "invalid address")

    return app
