"""The admin's pages: accounts, projects, imports, label quality and export downloads."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from valign.errors import UserError
from valign.feedback.human import export
from valign.feedback.human.accounts import MAX_NAME, MAX_PASSWORD, add_user, list_users
from valign.feedback.human.auth import SessionData
from valign.feedback.human.forms import text_field
from valign.feedback.human.projects import (
    add_items,
    create_project,
    get_project,
    list_projects,
    parse_lines,
)
from valign.feedback.human.quality import project_stats
from valign.feedback.human.settings import KINDS, ProjectSettings
from valign.feedback.human.tables import User
from valign.feedback.human.web import (
    HttpError,
    read_form,
    redirect,
    render,
    require_user,
    state,
)
from valign.records.comparisons import dump_comparison

router = APIRouter(prefix="/admin")


def _user_error(exc: UserError) -> HttpError:
    return HttpError(400, exc.message)


@router.get("")
def overview(request: Request) -> Response:
    user, sess = require_user(request, admin=True)
    st = state(request)
    projects = list_projects(st.store)
    stats = {p.name: project_stats(st.store, p.name) for p in projects}
    return render(
        request,
        "admin.html",
        user=user,
        sess=sess,
        projects=projects,
        stats=stats,
        users=list_users(st.store),
        kinds=KINDS,
        principles=sorted(st.principle_texts.items()),
        categories=sorted(st.category_names.items()),
        message=request.query_params.get("m"),
    )


async def _admin_form(
    request: Request, upload: bool = False
) -> tuple[User, SessionData, dict[str, Any]]:
    user, sess = await run_in_threadpool(require_user, request, True)
    return user, sess, await read_form(request, sess, upload)


@router.post("/users")
async def new_user(request: Request) -> Response:
    _, _, form = await _admin_form(request)
    try:
        await run_in_threadpool(
            add_user,
            state(request).store,
            text_field(form, "name", MAX_NAME),
            text_field(form, "password", MAX_PASSWORD),
            text_field(form, "role", 16) or "rater",
        )
    except UserError as exc:
        raise _user_error(exc) from None
    return redirect("/admin?m=account+saved")


def _list(form: dict[str, Any], key: str) -> list[str]:
    value = form.get(key, [])
    return [value] if isinstance(value, str) else list(value)


@router.post("/projects")
async def new_project(request: Request) -> Response:
    _, _, form = await _admin_form(request)
    st = state(request)
    raw = {k: v for k, v in form.items() if k in ProjectSettings.model_fields and v != ""}
    raw["principles"] = _list(form, "principles[]")
    raw["categories"] = _list(form, "categories[]")
    unknown = set(raw["principles"]) - set(st.principle_texts)
    if st.principle_texts and unknown:
        raise HttpError(400, f"unknown principle(s): {', '.join(sorted(unknown))}")
    try:
        settings = ProjectSettings.model_validate(raw)
        await run_in_threadpool(create_project, st.store, settings)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise HttpError(400, f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    except UserError as exc:
        raise HttpError(409, exc.message) from None
    return redirect(f"/admin/p/{settings.name}")


@router.get("/p/{name}")
def project_page(request: Request, name: str) -> Response:
    user, sess = require_user(request, admin=True)
    st = state(request)
    try:
        project = get_project(st.store, name)
    except UserError as exc:
        raise HttpError(404, exc.message) from None
    return render(
        request,
        "admin_project.html",
        user=user,
        sess=sess,
        project=project,
        stats=project_stats(st.store, name),
        message=request.query_params.get("m"),
    )


@router.post("/p/{name}/import")
async def import_items(request: Request, name: str) -> Response:
    _, _, form = await _admin_form(request, upload=True)
    st = state(request)
    upload = form.get("file")
    if upload is None or isinstance(upload, str | list):
        raise HttpError(400, "choose a JSONL file to import")
    data = await upload.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, "the file is not UTF-8 text") from None

    def run() -> int:
        project = get_project(st.store, name)
        rows = parse_lines(text.splitlines(), project, upload.filename or "upload")
        return add_items(st.store, name, rows)

    try:
        n = await run_in_threadpool(run)
    except UserError as exc:
        raise _user_error(exc) from None
    return redirect(f"/admin/p/{name}?m=imported+{n}+items")


EXPORTS = {
    "comparisons.jsonl": "pairwise",
    "demonstrations.jsonl": "demonstration",
    "ratings.jsonl": "rating",
    "attempts.jsonl": "redteam",
}


@router.get("/p/{name}/export/{filename}")
def download(request: Request, name: str, filename: str, mode: str = "each") -> Response:
    require_user(request, admin=True)
    st = state(request)
    try:
        project = get_project(st.store, name)
        if filename == "agreement.json":
            body = json.dumps(project_stats(st.store, name).to_dict(), indent=2) + "\n"
            media = "application/json"
        elif EXPORTS.get(filename) == project.kind:
            if mode not in ("each", "majority"):
                raise HttpError(400, "mode must be 'each' or 'majority'")
            body = _export_text(st.store, name, filename, mode)
            media = "application/x-ndjson"
        else:
            raise HttpError(404, f"no export {filename!r} for a {project.kind} project")
    except UserError as exc:
        raise HttpError(404, exc.message) from None
    disposition = f'attachment; filename="{name}-{filename}"'
    return Response(body, media_type=media, headers={"content-disposition": disposition})


def _export_text(store: Any, name: str, filename: str, mode: str) -> str:
    if filename == "comparisons.jsonl":
        rows = export.project_comparisons(store, name, mode)  # type: ignore[arg-type]
        return "".join(dump_comparison(r) for r in rows)
    lines = {
        "demonstrations.jsonl": export.demonstrations,
        "ratings.jsonl": export.ratings,
        "attempts.jsonl": export.attempts,
    }[filename](store, name)
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
