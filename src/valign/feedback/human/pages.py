"""The rater's pages: log in, pick a project, judge items one after another, log attempts.

Every POST checks the session's CSRF token and redirects after storing (303), so a reload
never re-submits; the judgment is committed before the redirect is sent.
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from valign.feedback.human import lockout
from valign.feedback.human.accounts import MAX_NAME, MAX_PASSWORD, authenticate
from valign.feedback.human.assign import next_assignment
from valign.feedback.human.auth import SessionData
from valign.feedback.human.forms import FormError, parse_attempt, parse_judgment, text_field
from valign.feedback.human.projects import is_project_name
from valign.feedback.human.record import record_attempt, record_judgment
from valign.feedback.human.tables import Assignment, Attempt, Item, Judgment, Project, User
from valign.feedback.human.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    AppState,
    HttpError,
    client_address,
    read_form,
    redirect,
    render,
    require_user,
    safe_next,
    session_of,
    state,
)

router = APIRouter()

# Item ids are database integers: a larger number in the address is no item (not an overflow).
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/health")
def health(request: Request) -> Response:
    """200 when the database answers, 503 when it does not."""
    try:
        with state(request).store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


def _login_form(
    request: Request, next_url: object, error: str | None = None, status: int = 200
) -> Response:
    """The login page with a fresh login token and its cookie (the form's CSRF pair)."""
    st = state(request)
    cookie, token = st.signer.login_cookie()
    response = render(
        request, "login.html", status, login_token=token, next=safe_next(next_url), error=error
    )
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=st.settings.secure_cookies,
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return _login_form(request, next)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check a password, counted against the lockout before it is checked (see lockout)."""
    st = state(request)
    form = await read_form(request, None)
    if not st.signer.check_login(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        raise HttpError(403, "the login form has expired; reload the page")
    name, password = form.get("name", ""), form.get("password", "")
    keys = lockout.keys_for(
        st.policy, name if isinstance(name, str) else "", client_address(request)
    )
    try:
        ticket = await run_in_threadpool(lockout.begin, st.store, keys, st.policy, time.time())
    except lockout.Locked as exc:
        raise HttpError(
            429,
            "too many failed logins; wait a few minutes",
            {"retry-after": str(math.ceil(exc.retry_after))},
        ) from None
    if not isinstance(name, str) or not isinstance(password, str):
        raise HttpError(400, "send one name and one password")
    if len(name) > MAX_NAME or len(password) > MAX_PASSWORD:
        raise HttpError(400, f"names have at most {MAX_NAME} characters, passwords {MAX_PASSWORD}")
    user = await run_in_threadpool(authenticate, st.store, name, password)
    if user is None:
        return _login_form(request, form.get("next"), "Wrong name or password.", 401)
    await run_in_threadpool(lockout.succeed, st.store, ticket, keys)
    await run_in_threadpool(lockout.prune, st.store, st.policy, time.time())
    target = safe_next(form.get("next"))
    if target == "/" and user.role == "admin":
        target = "/admin"
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        st.signer.session_cookie(user.id, user.session_version),
        max_age=int(st.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=st.settings.secure_cookies,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    found = await run_in_threadpool(session_of, request)
    if found is not None:
        user, sess = found
        await read_form(request, sess)
        await run_in_threadpool(_end_sessions, state(request), user.id)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


def _end_sessions(st: AppState, user_id: int) -> None:
    with st.store.session() as s:
        row = s.get(User, user_id)
        if row is not None:
            row.session_version += 1


@router.get("/")
def home(request: Request) -> Response:
    user, sess = require_user(request)
    with state(request).store.session() as s:
        projects = list(s.scalars(select(Project).order_by(Project.id)))
        mine = dict(
            s.execute(
                select(Judgment.project_id, func.count())
                .where(Judgment.rater_id == user.id)
                .group_by(Judgment.project_id)
            ).all()
        )
        logged = dict(
            s.execute(
                select(Attempt.project_id, func.count())
                .where(Attempt.rater_id == user.id)
                .group_by(Attempt.project_id)
            ).all()
        )
    rows = [(p, mine.get(p.id, 0) + logged.get(p.id, 0)) for p in projects]
    return render(request, "home.html", user=user, sess=sess, rows=rows)


def _project(s: Session, name: str) -> Project:
    project = (
        s.scalar(select(Project).where(Project.name == name)) if is_project_name(name) else None
    )
    if project is None:
        raise HttpError(404, f"no project named {name!r}")
    return project


@router.get("/p/{name}")
def next_item(request: Request, name: str) -> Response:
    user, sess = require_user(request)
    st = state(request)
    with st.store.session() as s:
        project = _project(s, name)
    if project.kind == "redteam":
        return _redteam_page(request, project, user, sess)
    with st.store.session() as s:
        a = next_assignment(
            s, project, user.id, st.rng, st.settings.lease_minutes, st.critic is not None
        )
        target = None if a is None else f"/p/{name}/i/{a.item_id}"
        done = s.scalar(
            select(func.count()).where(
                Judgment.project_id == project.id, Judgment.rater_id == user.id
            )
        )
    if target is not None:
        return redirect(target)
    return render(request, "done.html", user=user, sess=sess, project=project, done=done)


@router.get("/p/{name}/i/{item_id}")
def item_page(request: Request, name: str, item_id: ItemId) -> Response:
    user, sess = require_user(request)
    st = state(request)
    with st.store.session() as s:
        project = _project(s, name)
        item = s.get(Item, item_id)
        a = s.scalar(
            select(Assignment).where(Assignment.item_id == item_id, Assignment.rater_id == user.id)
        )
        done = s.scalar(
            select(func.count()).where(
                Judgment.project_id == project.id, Judgment.rater_id == user.id
            )
        )
    if item is None or a is None or item.project_id != project.id:
        raise HttpError(404, "this item is not assigned to you")
    if a.done:
        return redirect(f"/p/{name}")
    if a.assisted and a.critique is None and st.critic is not None:
        critique = st.critic(item.prompt, item.response_a, item.response_b or "")
        with st.store.session() as s:
            row = s.get(Assignment, a.id)
            if row is not None and row.critique is None:
                row.critique = a.critique = critique
    left, right = item.response_a, item.response_b or ""
    if a.swapped:
        left, right = right, left
    return render(
        request,
        f"{project.kind}.html",
        user=user,
        sess=sess,
        project=project,
        item=item,
        left=left,
        right=right,
        critique=a.critique if a.assisted else None,
        principles=[(p, st.principle_texts.get(p, "")) for p in project.principles],
        shown=f"{time.time():.3f}",
        done=done,
    )


@router.post("/p/{name}/i/{item_id}")
async def judge(request: Request, name: str, item_id: ItemId) -> Response:
    user, sess = await run_in_threadpool(require_user, request)
    form = await read_form(request, sess)
    await run_in_threadpool(_judge, state(request), name, item_id, user, form)
    return redirect(f"/p/{name}")


def _judge(st: AppState, name: str, item_id: int, user: User, form: dict[str, Any]) -> None:
    with st.store.session() as s:
        project = _project(s, name)
        a = s.scalar(
            select(Assignment).where(Assignment.item_id == item_id, Assignment.rater_id == user.id)
        )
    if a is None or a.project_id != project.id:
        raise HttpError(409, "this item is not assigned to you")
    tags = form.get("principle[]", [])
    try:
        judgment = parse_judgment(
            form,
            tags if isinstance(tags, list) else [tags],
            project,
            a.swapped,
            st.settings.max_text_chars,
        )
        record_judgment(st.store, project.id, item_id, user.id, judgment)
    except FormError as exc:
        raise HttpError(exc.status, exc.message) from None


# --------------------------------------------------------------------------- red team


def _redteam_page(
    request: Request,
    project: Project,
    user: User,
    sess: SessionData,
    draft: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    st = state(request)
    with st.store.session() as s:
        objectives = list(
            s.scalars(select(Item).where(Item.project_id == project.id).order_by(Item.id))
        )
        mine = list(
            s.scalars(
                select(Attempt)
                .where(Attempt.project_id == project.id, Attempt.rater_id == user.id)
                .order_by(Attempt.id.desc())
                .limit(20)
            )
        )
    return render(
        request,
        "redteam.html",
        status,
        user=user,
        sess=sess,
        project=project,
        objectives=objectives,
        attempts=mine,
        categories=[(c, st.category_names.get(c, c)) for c in project.categories],
        draft=draft or {},
        nonce=(draft or {}).get("nonce") or secrets.token_urlsafe(16),
        can_send=st.responder is not None,
        logged=request.query_params.get("logged") == "1",
    )


@router.post("/p/{name}/attempts")
async def log_attempt(request: Request, name: str) -> Response:
    user, sess = await run_in_threadpool(require_user, request)
    form = await read_form(request, sess)
    return await run_in_threadpool(_log_attempt, request, name, user, sess, form)


def _log_attempt(
    request: Request, name: str, user: User, sess: SessionData, form: dict[str, Any]
) -> Response:
    st = state(request)
    with st.store.session() as s:
        project = _project(s, name)
    if project.kind != "redteam":
        raise HttpError(404, f"project {name!r} does not log red-team attempts")
    try:
        if form.get("action") == "send":
            if st.responder is None:
                raise HttpError(400, "no model is attached to this server")
            prompt = text_field(form, "prompt", st.settings.max_text_chars, required=True)
            draft = {k: v for k, v in form.items() if isinstance(v, str)}
            draft["response"] = st.responder([{"role": "user", "content": prompt}])
            return _redteam_page(request, project, user, sess, draft)
        record_attempt(
            st.store,
            project.id,
            user.id,
            parse_attempt(form, project, st.settings.max_text_chars),
        )
    except FormError as exc:
        raise HttpError(exc.status, exc.message) from None
    return redirect(f"/p/{name}?logged=1")
