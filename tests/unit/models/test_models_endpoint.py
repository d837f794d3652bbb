"""EndpointChatModel against a real local OpenAI-compatible server serving the tiny model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
from models_testkit import DIALOGUES, build_app

from valign.errors import UserError
from valign.models import EndpointChatModel, GenerationConfig, HFChatModel, load_model

CONVS = [[{"role": "user", "content": q}] for q, _ in DIALOGUES]
Serve = Callable[[Any], str]


def test_generation_matches_the_local_model(tiny_hf: HFChatModel, serve: Serve) -> None:
    url = serve(build_app(tiny_hf))
    cfg = GenerationConfig(max_new_tokens=24, stop=(" four",))
    with EndpointChatModel(url, "tiny", concurrency=4) as remote:
        assert remote.generate(CONVS, cfg, progress=True) == tiny_hf.generate(CONVS, cfg)


def test_load_model_asks_the_server_for_its_model(tiny_hf: HFChatModel, serve: Serve) -> None:
    url = serve(build_app(tiny_hf))
    model = load_model(url)
    assert isinstance(model, EndpointChatModel)
    assert model.name == "tiny"
    assert model.generate([CONVS[0]], GenerationConfig(max_new_tokens=4)) == ["world"]


def test_scores_match_the_local_model(
    tiny_hf: HFChatModel, tiny_model_dir: Path, serve: Serve
) -> None:
    url = serve(build_app(tiny_hf))
    conts = ["world", "the sky is", "one two", "", "an apple", "blue"]
    remote = load_model(f"{url}#tiny", tokenizer=str(tiny_model_dir))
    got = remote.continuation_logprobs(CONVS, conts)
    want = tiny_hf.continuation_logprobs(CONVS, conts)
    for g, w in zip(got, want, strict=True):
        assert g.n_tokens == w.n_tokens
        assert g.logprob == pytest.approx(w.logprob, abs=1e-4)


def test_scoring_without_a_tokenizer_is_a_user_error(tiny_hf: HFChatModel, serve: Serve) -> None:
    remote = EndpointChatModel(serve(build_app(tiny_hf)), "tiny")
    with pytest.raises(UserError, match="needs its tokenizer"):
        remote.continuation_logprobs([CONVS[0]], ["world"])


def test_server_without_echo_logprobs_is_a_user_error(
    tiny_hf: HFChatModel, tiny_model_dir: Path, serve: Serve
) -> None:
    url = serve(build_app(tiny_hf, echo_logprobs=False))
    remote = EndpointChatModel(url, "tiny", tokenizer=tiny_model_dir)
    with pytest.raises(UserError, match="echo"):
        remote.continuation_logprobs([CONVS[0]], ["world"])


def test_wrong_api_key_is_a_user_error(
    tiny_hf: HFChatModel, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = serve(build_app(tiny_hf, api_key="secret"))
    with pytest.raises(UserError, match="401"):
        EndpointChatModel(url, "tiny").generate([CONVS[0]], GenerationConfig(max_new_tokens=2))
    monkeypatch.delenv("VALIGN_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    model = load_model(f"{url}#tiny")
    assert model.generate([CONVS[0]], GenerationConfig(max_new_tokens=4)) == ["world"]


def test_not_found_is_a_user_error(tiny_hf: HFChatModel, serve: Serve) -> None:
    url = serve(build_app(tiny_hf))
    with pytest.raises(UserError, match="404"):
        EndpointChatModel(url.removesuffix("/v1") + "/nope")
    with pytest.raises(UserError, match=r"404.*'other'"):
        EndpointChatModel(url, "other").generate([CONVS[0]], GenerationConfig())


def test_connection_refused_is_a_user_error(free_port: int) -> None:
    model = EndpointChatModel(f"http://127.0.0.1:{free_port}/v1", "m", max_retries=2, backoff=0.01)
    with pytest.raises(UserError, match="cannot reach"):
        model.generate([CONVS[0]], GenerationConfig())


def test_overloaded_server_is_retried(tiny_hf: HFChatModel, serve: Serve) -> None:
    app = build_app(tiny_hf, fail_first=1, fail_status=503)
    model = EndpointChatModel(serve(app), "tiny", backoff=0.01)
    assert model.generate([CONVS[0]], GenerationConfig(max_new_tokens=4)) == ["world"]
    assert app.state.requests == 2


def test_retries_are_bounded(tiny_hf: HFChatModel, serve: Serve) -> None:
    app = build_app(tiny_hf, fail_first=100, fail_status=429)
    model = EndpointChatModel(serve(app), "tiny", max_retries=2, backoff=0.01)
    with pytest.raises(UserError, match="kept failing after 3 tries"):
        model.generate([CONVS[0]], GenerationConfig())
    assert app.state.requests == 3
