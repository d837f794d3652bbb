"""DemoConfig: defaults < YAML file < overrides, and one-line errors for bad files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from rich.console import Console

from valign.errors import UserError
from valign.pipeline import OPTIONAL, STAGES, DemoConfig, RealProfileConfig, run_demo
from valign.stage import StageContext
from valign.train.pretrain import PretrainConfig


def _yaml(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_overrides() -> None:
    cfg = DemoConfig.load(None)
    assert cfg == DemoConfig()
    assert cfg.pretrain == PretrainConfig()


def test_yaml_overrides_defaults(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "seed: 5\npretrain:\n  max_steps: 7\n  hidden_size: 64\n")
    cfg = DemoConfig.load(path)
    assert cfg.seed == 5
    assert cfg.pretrain.max_steps == 7
    assert cfg.pretrain.hidden_size == 64
    # what the file leaves out keeps its default, also inside a nested section
    assert cfg.eval_per_kind == DemoConfig().eval_per_kind
    assert cfg.pretrain.num_layers == PretrainConfig().num_layers


def test_overrides_beat_yaml(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "seed: 5\neval_limit: 3\npretrain:\n  max_steps: 7\n  hidden_size: 64\n")
    cfg = DemoConfig.load(path, seed=9, **{"pretrain.max_steps": 11})
    assert cfg.seed == 9
    assert cfg.pretrain.max_steps == 11
    assert cfg.pretrain.hidden_size == 64  # a nested override keeps the file's siblings
    assert cfg.eval_limit == 3


def test_none_override_means_not_given(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "seed: 5\npretrain:\n  max_steps: 7\n")
    cfg = DemoConfig.load(path, seed=None, eval_limit=None, **{"pretrain.max_steps": None})
    assert cfg.seed == 5
    assert cfg.pretrain.max_steps == 7


def test_a_nested_setting_keeps_the_defaults_a_factory_chose(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "align:\n  sft:\n    threads: 1\nrlaif:\n  rl:\n    threads: 1\n")
    cfg = DemoConfig.load(path, **{"rlaif.dpo.threads": 1})
    assert cfg.align.sft.threads == 1
    assert cfg.align.sft.learning_rate == DemoConfig().align.sft.learning_rate == 3e-4
    assert cfg.rlaif.method == DemoConfig().rlaif.method == "direct"
    assert cfg.rlaif.rl.max_steps == 40 and cfg.rlaif.rl.threads == 1
    assert cfg.rlaif.dpo.threads == 1


def test_nested_override_without_file() -> None:
    cfg = DemoConfig.load(None, **{"pretrain.max_steps": 3}, eval_limit=2)
    assert cfg.pretrain.max_steps == 3
    assert cfg.eval_limit == 2
    assert cfg.pretrain.seq_len == PretrainConfig().seq_len


def test_empty_file_is_defaults(tmp_path: Path) -> None:
    assert DemoConfig.load(_yaml(tmp_path, "")) == DemoConfig()
    assert DemoConfig.load(_yaml(tmp_path, "# only a comment\n", "c.yaml")) == DemoConfig()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="config file not found"):
        DemoConfig.load(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "text",
    ["seed: [1, 2\n", "seed: 1\n  bad indent: 2\n", "a: b: c\n", "\tseed: 1\n"],
    ids=["unclosed", "indent", "colon", "tab"],
)
def test_invalid_yaml(tmp_path: Path, text: str) -> None:
    path = _yaml(tmp_path, text)
    with pytest.raises(UserError) as info:
        DemoConfig.load(path)
    assert str(path) in info.value.message
    assert "not valid YAML" in info.value.message


def test_invalid_yaml_message_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        DemoConfig.load(_yaml(tmp_path, "seed: [1, 2\n"))
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    ("text", "line", "loc"),
    [
        ("sead: 1\n", 1, "sead"),
        ("seed: 1\npretrain:\n  hidden: 8\n", 3, "pretrain.hidden"),
        ("# a comment\nseed: many\n", 2, "seed"),
        ("pretrain: 3\n", 1, "pretrain"),
    ],
)
def test_invalid_settings_name_the_file_line_and_field(
    tmp_path: Path, text: str, line: int, loc: str
) -> None:
    path = _yaml(tmp_path, text)
    with pytest.raises(UserError) as info:
        DemoConfig.load(path)
    assert info.value.message.startswith(f"{path}:{line}: {loc}: ")
    assert "\n" not in info.value.message


def test_invalid_override_names_options() -> None:
    with pytest.raises(UserError, match=r"^options: pretrain\.max_steps: "):
        DemoConfig.load(None, **{"pretrain.max_steps": "lots"})


def test_an_invalid_override_beside_a_file_names_options(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "seed: 1\n")
    with pytest.raises(UserError, match=r"^options: eval_limit: "):
        DemoConfig.load(path, eval_limit="some")


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "seed: 1\nseed: 2\n")
    with pytest.raises(UserError, match=r":2: seed: given twice \(first on line 1\)$"):
        DemoConfig.load(path)


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        DemoConfig.load(_yaml(tmp_path, "- 1\n- 2\n"))


@pytest.mark.parametrize(
    ("text", "override"),
    [("- 1\n- 2\n", {"seed": 3}), ("pretrain: null\n", {"pretrain.max_steps": 3})],
    ids=["list-file", "null-section"],
)
def test_non_mapping_yaml_with_overrides_is_a_user_error(
    tmp_path: Path, text: str, override: dict[str, int]
) -> None:
    with pytest.raises(UserError):
        DemoConfig.load(_yaml(tmp_path, text), **override)


def test_config_is_frozen() -> None:
    cfg = DemoConfig()
    with pytest.raises(ValueError):
        setattr(cfg, "seed", 3)  # noqa: B010


def test_stage_order() -> None:
    assert [name for name, _ in STAGES] == [
        "world",
        "pretrain",
        "eval_base",
        "sft",
        "reward",
        "cost",
        "rl",
        "cai",
        "eval_aligned",
        "redteam_base",
        "redteam_aligned",
        "guard",
        "interp",
        "data_audit",
        "data_ablation",
    ]


def test_red_teaming_is_opt_in() -> None:
    assert DemoConfig().redteam is False


def test_ai_feedback_is_opt_in_and_needs_the_sft_model() -> None:
    assert DemoConfig().cai is False
    assert OPTIONAL["cai"](DemoConfig(cai=True))
    assert not OPTIONAL["cai"](DemoConfig(cai=True, alignment=False))


def test_switching_on_cai_later_redoes_the_scorecard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    def fake(name: str) -> Any:
        def stage(ctx: StageContext[DemoConfig]) -> dict[str, Any]:
            ran.append(name)
            return {}

        return stage

    names = ("world", "rl", "cai", "eval_aligned")
    monkeypatch.setattr("valign.pipeline.STAGES", tuple((n, fake(n)) for n in names))
    quiet = Console(file=io.StringIO())
    run_demo(tmp_path, DemoConfig(guard=False), quiet)
    assert ran == ["world", "rl", "eval_aligned"]
    run_demo(tmp_path, DemoConfig(guard=False, cai=True), quiet)
    assert ran[3:] == ["cai", "eval_aligned"]  # the scorecard gains the RLAIF column
    run_demo(tmp_path, DemoConfig(guard=False, cai=True), quiet)
    assert len(ran) == 5  # then nothing is stale


def test_the_checks_are_on_by_default_and_can_be_switched_off() -> None:
    cfg = RealProfileConfig()
    assert cfg.guard and cfg.redteam.enabled and cfg.interp.enabled and cfg.interp.ablate
    off = RealProfileConfig.model_validate(
        {"guard": False, "redteam": {"enabled": False}, "interp": {"enabled": False}}
    )
    assert not (off.guard or off.redteam.enabled or off.interp.enabled)
    with pytest.raises(ValidationError):
        RealProfileConfig.model_validate({"interp": {"layer": -1}})
    with pytest.raises(ValidationError):
        RealProfileConfig.model_validate({"redteam": {"per_source": 0}})
