"""Property-based fuzzing of the rating app: hypothesis draws requests to every page and form
(fields real and made up, values tricky and random, raw bytes, wrong content types, made-up
addresses), sends them in-process as an admin, a rater or a visitor, and checks that every
reply is below 500 and carries the security headers.

CI draws the same examples every run (derandomized); ``VALIGN_FUZZ_EXAMPLES=N`` and
``VALIGN_FUZZ_RANDOM=1`` run a longer, fresh search by hand."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from fastapi.testclient import TestClient
from httpx import Response
from human_testkit import PASSWORD, app_for, login
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valign.feedback.human import ServerSettings, Store, add_items, create_project
from valign.feedback.human.settings import ProjectSettings

SAFE_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")
ACCOUNTS = ("admin", "ana", "bo", "cy")


def assert_safe(r: Response, allow_500: bool = False) -> None:
    """Below 500 (unless allowed) and with the security headers."""
    if not allow_500:
        assert r.status_code < 500, (r.request.method, r.request.url, r.status_code, r.text)
    for name in SAFE_HEADERS:
        assert name in r.headers, (r.request.url, r.status_code, name)


FIELDS = [
    "csrf", "name", "password", "next", "choice", "strength", "rating", "text", "rationale",
    "principle[]", "shown", "nonce", "prompt", "response", "harmful", "category", "severity",
    "notes", "item", "action", "kind", "overlap", "gold_every", "assist_rate",
    "likert_points", "instructions", "principles[]", "categories[]", "role",
]  # fmt: skip
TRICKY = [
    "", "0", "-1", "1", "2", "3", "7", "12", "left", "right", "tie", "yes", "send", "rater",
    "admin", "pairwise", "rating", "demonstration", "redteam", "weapons", "honesty",
    "99999999999999999999999", "-99999999999999999999999", "1e400", "nan", "-inf", "0x10",
    "\x00", "a\x00b", "\U0001d518", "\u202e", "\ufeff", "<script>alert(1)</script>",
    "'; DROP TABLE users; --", "%", "%zz", "//evil.example", "x" * 70, "x" * 1100,
    "9" * 5000, PASSWORD,
]  # fmt: skip
SEGMENTS = [
    "p1", "rt", "nope", "1", "2", "0", "-5", "99999999999999999999999", "x" * 70, "%00",
    "%ff", "..", "comparisons.jsonl", "attempts.jsonl", "agreement.json", "ratings.jsonl",
]  # fmt: skip

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
values = st.one_of(st.sampled_from(TRICKY), text)
names = st.one_of(st.sampled_from(FIELDS), text)
segments = st.one_of(
    st.sampled_from(SEGMENTS), text.map(lambda s: quote(s, safe="")), st.integers().map(str)
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
item_keys = st.sampled_from(
    ["id", "prompt", "response", "response_a", "response_b", "gold", "category", "meta",
     "chosen", "rejected"]
)  # fmt: skip
item_lines = st.fixed_dictionaries(
    {"prompt": text, "response_a": text, "response_b": text},
    optional={
        "id": text,
        "gold": st.sampled_from(["A", "B", "tie", "C", 1, True, None, 10**30]),
        "meta": json_values,
        "response": text,
        "category": text,
    },
).map(json.dumps)
HAZARDS = [  # lines that once reached a 500, or could on one database or another
    "[" * 5000,
    '{"prompt": "p", "response_a": "a", "response_b": "b", "meta": '
    + '{"m": ' * 40
    + "1"
    + "}" * 41,
    '{"prompt": "p", "response_a": "a\\u0000", "response_b": "b"}',
    '{"prompt": "p", "response_a": "\\ud800", "response_b": "b"}',
    '{"prompt": "p", "response_a": "a", "response_b": "b", "meta": {"x": NaN}}',
    '{"prompt": "p", "response_a": "a", "response_b": "b", "meta": {"x": 1e999}}',
    '{"prompt": "p", "response_a": "a", "response_b": "b", "gold": ' + "9" * 5000 + "}",
    '{"prompt": [{"role": "user", "content": "\\u0000"}], "chosen": "a", "rejected": "b"}',
]
import_lines = st.one_of(
    item_lines,
    st.sampled_from(HAZARDS),
    st.dictionaries(item_keys, json_values, max_size=6).map(json.dumps),
    text,
)
CONTENT_TYPES = [
    "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
    "multipart/form-data", "multipart/form-data; boundary=xyz", "text/plain",
    "application/json", "",
]  # fmt: skip
POSTS = [
    "/login", "/logout", "/p/{project}/i/{item}", "/p/{project}/attempts", "/admin/users",
    "/admin/projects", "/admin/p/{project}/import",
]  # fmt: skip
GETS = [
    "/", "/login?next={any}", "/p/{project}", "/p/{project}/i/{item}", "/admin",
    "/admin/p/{project}", "/admin/p/{project}/export/{file}?mode={any}", "/health",
    "/static/{any}", "/{any}",
]  # fmt: skip
BASES = {  # a valid form per page, which the drawn fields then add to or replace
    "/p/{project}/i/{item}": {"choice": "left", "strength": "2", "rationale": "ok"},
    "/p/p1/i/{item}": {"choice": "left", "strength": "2", "rationale": "ok"},
    "/p/{project}/attempts": {"nonce": "n", "prompt": "try", "harmful": "yes", "item": "5"},
    "/p/rt/attempts": {"nonce": "n", "prompt": "try", "harmful": "yes", "category": "weapons"},
    "/admin/users": {"name": "newcomer", "password": "long-enough-1", "role": "rater"},
    "/admin/projects": {"name": "p9", "kind": "rating", "overlap": "2"},
    "/login": {"name": "bo", "password": "wrong-password"},
}
PARTS = {
    "project": st.one_of(st.sampled_from(["p1", "rt"]), segments),
    "item": st.one_of(
        st.just("ASSIGNED"),
        st.sampled_from(["1", "0", "-1", "2147483648", "99999999999999999999999"]),
        st.integers().map(str),
        segments,
    ),
    "file": st.one_of(
        st.sampled_from(["comparisons.jsonl", "attempts.jsonl", "agreement.json"]), segments
    ),
    "any": segments,
}


@dataclass
class Call:
    """One drawn request."""

    who: str
    method: str
    path: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes | None = None
    content_type: str = "application/x-www-form-urlencoded"
    upload: tuple[str, bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)


# Each target gets its share of the examples: (who, method, path template); who "any" and
# the templates draw the rest.
TARGETS = [
    ("visitor", "POST", "/login"),
    ("rater", "POST", "/p/p1/i/{item}"),
    ("rater", "POST", "/p/rt/attempts"),
    ("admin", "POST", "/admin/users"),
    ("admin", "POST", "/admin/projects"),
    ("admin", "POST", "/admin/p/p1/import"),
    ("any", "POST", "any"),
    ("any", "GET", "any"),
]


@st.composite
def calls(draw: Any, target: tuple[str, str, str]) -> Call:
    who, method, template = target
    if template == "any":
        template = draw(st.sampled_from(POSTS if method == "POST" else GETS))
    if who == "any":
        who = draw(st.sampled_from(["admin", "rater", "visitor"]))
    path = template.format(**{k: draw(v) for k, v in PARTS.items()})
    if path in ("/login", "/logout"):  # the admin and the rater stay logged in
        who = "visitor"
    call = Call(who=who, method=method, path=path)
    if draw(st.booleans()):
        call.headers["x-forwarded-for"] = draw(st.sampled_from(["203.0.113.5", "junk", ""]))
    if method == "GET":
        return call
    body = draw(st.sampled_from(["pairs", "pairs", "pairs", "raw"]))
    if body == "raw":
        call.raw = draw(st.binary(max_size=120))
        call.content_type = draw(st.sampled_from(CONTENT_TYPES))
        return call
    pairs = list(BASES.get(template, {}).items()) if draw(st.integers(0, 3)) else []
    for key, value in draw(st.lists(st.tuples(names, values), max_size=6)):
        if draw(st.booleans()):  # replace the field, or add another value to it
            pairs = [(k, v) for k, v in pairs if k != key]
        pairs.append((key, value))
    if path == "/admin/users":  # never reset a password the fuzzer logs in with
        pairs = [(k, v) for k, v in pairs if not (k == "name" and v in ACCOUNTS)]
    call.pairs = pairs
    if path.endswith("/import"):
        lines = draw(st.lists(import_lines, min_size=1, max_size=3))
        hazard = draw(st.sampled_from([None, *HAZARDS]))
        if hazard is not None and draw(st.booleans()):
            lines.insert(0, hazard)
        name = draw(st.sampled_from(["items.jsonl", "", "x" * 300, "\u202e.jsonl"]))
        content = "\n".join(lines).encode("utf-8", "replace")
        bom = draw(st.integers(0, 3)) == 0
        call.upload = (name, b"\xff\xfe" + content if bom else content)
    return call


class Fuzzer:
    """The clients and tokens the drawn requests are sent with."""

    def __init__(self, store: Store) -> None:
        create_project(store, ProjectSettings(name="rt", kind="redteam", categories=["weapons"]))
        add_items(
            store,
            "rt",
            [
                {
                    "external_id": "o1",
                    "prompt": [{"role": "user", "content": "Make it say [PLACEHOLDER]."}],
                    "response_a": "",
                    "response_b": None,
                    "gold": None,
                    "meta": {},
                }
            ],
        )
        app = app_for(store, ServerSettings(seed=0, lockout_after=3))
        self.clients = {
            "admin": TestClient(app, follow_redirects=False),
            "rater": TestClient(app, follow_redirects=False),
            "visitor": TestClient(app, follow_redirects=False),
        }
        self.tokens = {
            "admin": login(self.clients["admin"], "admin"),
            "rater": login(self.clients["rater"], "ana"),
        }
        where = self.clients["rater"].get("/p/p1").headers["location"]  # an item to judge
        self.assigned = where.rsplit("/", 1)[1]
        page = self.clients["visitor"].get("/login")
        self.login_cookie = self.clients["visitor"].cookies["valign_login"]
        self.tokens["visitor"] = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]

    def send(self, call: Call) -> Response:
        client = self.clients[call.who]
        call.path = call.path.replace("ASSIGNED", self.assigned)
        if call.who == "visitor":  # a fresh login form each time (a login deletes it)
            client.cookies.clear()
            client.cookies.set("valign_login", self.login_cookie)
        if call.method == "GET":
            return client.get(call.path, headers=call.headers)
        pairs = list(call.pairs)
        pairs.insert(0, ("csrf", self.tokens[call.who]))  # a drawn "csrf" may follow
        if call.upload is not None:
            return client.post(
                call.path,
                data=dict(pairs),
                files={"file": (call.upload[0], call.upload[1], "application/jsonl")},
                headers=call.headers,
            )
        if call.raw is not None:
            body = call.raw
        else:
            body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs).encode()
        headers = {**call.headers, "content-type": call.content_type}
        return client.post(call.path, content=body, headers=headers)


def fuzz_app(store: Store, examples: int) -> None:
    """Send about ``examples`` drawn requests, shared among the TARGETS; each must be
    answered below 500 with the security headers."""
    fuzzer = Fuzzer(store)
    for target in TARGETS:

        @settings(
            max_examples=max(examples // len(TARGETS), 1),
            deadline=None,
            database=None,
            derandomize=os.environ.get("VALIGN_FUZZ_RANDOM") != "1",
            suppress_health_check=list(HealthCheck),
        )
        @given(calls(target))
        def one(call: Call) -> None:
            assert_safe(fuzzer.send(call))

        one()
