"""load_model: the forms of a model spec and the errors a user sees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.models import EndpointChatModel, HFChatModel, load_model
from valign.models.load import looks_like_path


def test_local_folder_loads(tiny_model_dir: Path) -> None:
    model = load_model(str(tiny_model_dir))
    assert isinstance(model, HFChatModel)
    assert model.name == str(tiny_model_dir)


@pytest.mark.parametrize(
    "spec", ["./no/such/model", "/no/such/model", "~/no-such-model", "no/such/model"]
)
def test_missing_local_path_is_a_user_error(spec: str) -> None:
    with pytest.raises(UserError, match="model not found"):
        load_model(spec)


def test_a_file_is_not_a_model(tmp_path: Path) -> None:
    file = tmp_path / "weights.bin"
    file.write_bytes(b"")
    with pytest.raises(UserError, match="not a folder"):
        load_model(str(file))


def test_hub_id_that_cannot_be_loaded_is_a_one_line_user_error() -> None:
    with pytest.raises(UserError, match="could not load model") as info:
        load_model("valign-test-org/no-such-model", local_files_only=True)
    assert "\n" not in str(info.value)


def test_model_without_chat_template_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "base-model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("chat_template", None)
    config_path.write_text(json.dumps(config))
    with pytest.raises(UserError, match="no chat template"):
        load_model(str(folder))


def test_bad_dtype_is_a_user_error(tiny_model_dir: Path) -> None:
    with pytest.raises(UserError, match="unknown dtype"):
        load_model(str(tiny_model_dir), dtype="float7")


def test_path_or_hub_id() -> None:
    assert looks_like_path("./m") and looks_like_path("/m") and looks_like_path("~/m")
    assert looks_like_path("a/b/c")
    assert not looks_like_path("Qwen/Qwen2.5-0.5B-Instruct")
    assert not looks_like_path("gpt2")


def test_endpoint_spec_takes_the_model_after_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALIGN_API_KEY", "k1")
    model = load_model("http://127.0.0.1:9/v1#my-model")
    assert isinstance(model, EndpointChatModel)
    assert model.name == "my-model"
    assert model.base_url == "http://127.0.0.1:9/v1"
    model.close()
