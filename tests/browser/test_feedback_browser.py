"""A rater and an admin in a real browser: log in, judge with keys and the mouse, read the
agreement, download the export and train DPO on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from feedback_browserkit import LiveServer
from human_testkit import PASSWORD, PRINCIPLES, client_for, login, make_store, next_item

from valign.feedback.human import ServerSettings, Store, add_items, create_app

pytestmark = pytest.mark.browser

XSS = '<script>window.__xss = 1; alert("x")</script><img src=x onerror="window.__xss=2">'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Store]]:
    store = make_store(tmp_path_factory.mktemp("site"), n=6, gold=2, overlap=3, gold_every=3)
    add_items(
        store,
        "p1",
        [
            {
                "external_id": "xss",
                "prompt": [{"role": "user", "content": "Show me markup."}],
                "response_a": XSS,
                "response_b": "Plain answer about Lake Vesh.",
                "gold": None,
                "meta": {},
            }
        ],
    )
    app = create_app(
        store,
        ServerSettings(seed=1),
        principle_texts={p: f"Text of the {p} principle." for p in PRINCIPLES},
    )
    with LiveServer(app) as server:
        yield server, store
    store.close()


def _login(page: Any, url: str, name: str, shots: Path | None = None) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    if shots is not None:
        page.screenshot(path=str(shots / "01-login.png"))
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_rater_judges_with_keys_and_mouse(
    browser: Any, site: tuple[LiveServer, Store], artefacts: Path
) -> None:
    server, store = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, server.url, "ana", artefacts)
    assert page.url.rstrip("/") == server.url
    page.screenshot(path=str(artefacts / "02-projects.png"))
    page.click("a.row")  # the project
    page.wait_for_url("**/p/p1/i/*")
    page.screenshot(path=str(artefacts / "03-pairwise.png"), full_page=True)
    judged = 0
    while "/i/" in page.url:
        before = page.url
        if page.locator("text=Plain answer about Lake Vesh.").count():
            # the XSS item: the markup is on the page as text and never ran
            assert page.locator(".reply .text", has_text="<script>").count() == 1
            assert page.evaluate("window.__xss") is None
        if judged % 2 == 0:  # keyboard: 1 = A, m = much better, Enter submits
            page.keyboard.press("1")
            page.keyboard.press("m")
            assert page.is_checked("input[name=choice][value=left]")
            page.keyboard.press("Enter")
        else:  # mouse: click the right reply, a principle tag, type a rationale, submit
            page.click(".reply:nth-child(2)")
            page.click(f"label.chip:has-text('{PRINCIPLES[0]}')")
            page.fill("textarea[name=rationale]", "Answers the question.")
            page.click("button.primary")
        page.wait_for_url(lambda u, b=before: u != b)
        judged += 1
        assert judged < 20
    assert "All done" in page.content()
    page.screenshot(path=str(artefacts / "04-done.png"))
    assert judged == 9 and dialogs == []
    from valign.feedback.human import project_stats

    stats = project_stats(store, "p1")
    assert stats.raters["ana"].judgments == 9
    page.close()


def test_admin_sees_agreement_and_exports_to_dpo(
    browser: Any,
    site: tuple[LiveServer, Store],
    artefacts: Path,
    tiny_base_model_dir: Path,
    tmp_path: Path,
) -> None:
    server, store = site
    for name in ("bo", "cy"):  # two more raters, over HTTP, so agreement has pairs
        c = client_for(store)
        csrf = login(c, name)
        while (loc := next_item(c)) is not None:
            c.post(loc, data={"csrf": csrf, "choice": "left" if name == "bo" else "right"})
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, server.url, "admin")
    page.wait_for_url("**/admin")
    page.screenshot(path=str(artefacts / "05-admin.png"), full_page=True)
    page.click("a:has-text('p1')")
    page.wait_for_url("**/admin/p/p1")
    page.screenshot(path=str(artefacts / "06-admin-project.png"), full_page=True)
    alpha = page.inner_text("#alpha b")
    assert alpha not in ("", "–")
    assert page.locator("#kappas tbody tr").count() == 3
    assert page.locator("#raters tbody tr").count() == 3
    with page.expect_download() as info:
        page.click("a:has-text('comparisons.jsonl')")
    path = tmp_path / "comparisons.jsonl"
    info.value.save_as(path)
    page.close()

    from valign.records.comparisons import load_comparisons
    from valign.train.dpo import DPOSettings, train_dpo

    rows = load_comparisons(path)
    assert rows and {r.source for r in rows} == {"human"}
    assert {r.rater for r in rows} <= {"ana", "bo", "cy"}
    result = train_dpo(
        tiny_base_model_dir, path, tmp_path / "dpo", DPOSettings(max_steps=2, batch_size=4)
    )
    assert (Path(result.model_dir) / "config.json").is_file()
