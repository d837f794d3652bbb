"""`valign interp explain|probe|steer` on the tiny microworld base model, and mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valign.errors import UserError
from valign.interp.cli import app
from valign.records.runs import RunDir

runner = CliRunner()


@pytest.mark.slow
def test_explain_probe_steer_build_one_page(
    tiny_base_model_dir: Path, tiny_world: Path, tmp_path: Path
) -> None:
    common = [
        "--model",
        str(tiny_base_model_dir),
        "--world",
        str(tiny_world),
        "--out",
        str(tmp_path),
    ]
    result = runner.invoke(
        app,
        [
            "explain",
            *common,
            "--limit",
            "40",
            "--sites",
            "mlp.0",
            "--neurons",
            "6",
            "--n-top",
            "3",
            "--n-random",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    neurons = [
        json.loads(x) for x in (tmp_path / "explain" / "neurons.jsonl").read_text().splitlines()
    ]
    assert len(neurons) == 6 and all(-1 <= n["score"] <= 1 and n["examples"] for n in neurons)
    result = runner.invoke(
        app, ["probe", *common, "--concepts", "harmful_request", "--sites", "resid.0,resid.1"]
    )
    assert result.exit_code == 0, result.output
    summary = RunDir(tmp_path).summary("probe")
    assert summary and summary["best"]["harmful_request"]["n_test"] > 0
    assert (tmp_path / "probe" / "directions" / "harmful_request-resid.1-probe.json").is_file()
    result = runner.invoke(
        app,
        [
            "steer",
            *common,
            "--site",
            "resid.1",
            "--gate-site",
            "resid.0",
            "--strengths",
            "0,1",
            "--limit",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    points = RunDir(tmp_path).summary("steer")["points"]  # type: ignore[index]
    assert [(p["condition"], p["strength"]) for p in points] == [
        ("always", 0.0),
        ("always", 1.0),
        ("gated", 0.0),
        ("gated", 1.0),
    ]
    page = (tmp_path / "interp.html").read_text()
    for title in ("neuron explanations", "probes", "steering", "Token-level activations"):
        assert title in page


def test_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["explain", "--model", "x", "--texts", str(tmp_path / "no.jsonl")])
    assert isinstance(result.exception, UserError) and "input file not found" in str(
        result.exception
    )
    result = runner.invoke(app, ["probe", "--model", "x", "--concepts", "vibes"])
    assert isinstance(result.exception, UserError) and "unknown concept" in str(result.exception)
    result = runner.invoke(app, ["steer", "--model", "x", "--direction", "nope.json"])
    assert isinstance(result.exception, UserError) and "direction file not found" in str(
        result.exception
    )
    result = runner.invoke(app, ["steer", "--model", "x", "--strengths", "a,b"])
    assert isinstance(result.exception, UserError) and "numbers" in str(result.exception)
    result = runner.invoke(
        app, ["probe", "--model", "http://localhost:9/v1", "--world", str(tmp_path)]
    )
    assert isinstance(result.exception, UserError) and "eval.jsonl" in str(result.exception)


def test_a_rerun_with_other_settings_starts_afresh(tmp_path: Path) -> None:
    from valign.interp.common import run_job
    from valign.interp.probe_job import ProbeSettings

    def work(folder: Path) -> dict[str, int]:
        n = len(list(folder.glob("*.jsonl")))
        (folder / f"r{n}.jsonl").write_text("{}\n")
        return {"files_before": n}

    same = ProbeSettings(model="m")
    assert run_job(tmp_path, "probe", same, 0, work)["files_before"] == 0
    assert run_job(tmp_path, "probe", same, 0, work)["files_before"] == 1  # resumes
    other = ProbeSettings(model="m", l2=0.5)
    assert run_job(tmp_path, "probe", other, 0, work)["files_before"] == 0  # no stale records


@pytest.mark.parametrize(
    ("command", "runner_name", "yaml_text", "argv", "expected"),
    [
        (
            "explain",
            "valign.interp.explain_job.run_explain",
            "model: m\nlimit: 50\nmax_tokens: 64\nseed: 2\n",
            ["--seed", "5"],
            {"model": "m", "limit": 50, "max_tokens": 64, "seed": 5},
        ),
        (
            "probe",
            "valign.interp.probe_job.run_probe",
            "model: m\nconcepts: [stereotype]\nl2: 0.5\n",
            ["--sites", "resid.0"],
            {"concepts": ("stereotype",), "l2": 0.5, "sites": "resid.0"},
        ),
        (
            "steer",
            "valign.interp.steer_job.run_steer",
            "model: m\nstrengths: [0, 2]\nn_contrast: 10\nlimit: 3\n",
            ["--conditions", "gated", "--model", "other"],
            {
                "model": "other",
                "strengths": (0.0, 2.0),
                "n_contrast": 10,
                "limit": 3,
                "conditions": ("gated",),
            },
        ),
    ],
)
def test_settings_come_from_config_then_typed_options(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    runner_name: str,
    yaml_text: str,
    argv: list[str],
    expected: dict[str, object],
) -> None:
    seen: dict[str, object] = {}

    def fake(settings: object, out: Path) -> None:
        seen["settings"] = settings
        raise UserError("stubbed")

    monkeypatch.setattr(runner_name, fake)
    cfg = tmp_path / "interp.yaml"
    cfg.write_text(yaml_text, encoding="utf-8")
    result = runner.invoke(app, [command, "--config", str(cfg), *argv])
    assert str(result.exception) == "stubbed", result.output
    got = seen["settings"]
    assert {k: getattr(got, k) for k in expected} == expected


def test_config_mistakes_name_file_line_and_field(tmp_path: Path) -> None:
    cfg = tmp_path / "interp.yaml"
    cfg.write_text("model: m\nsites: mlp.0\nneurons: -1\n", encoding="utf-8")
    result = runner.invoke(app, ["explain", "--config", str(cfg)])
    assert isinstance(result.exception, UserError)
    assert str(result.exception).startswith(f"{cfg}:3: neurons: ")
    result = runner.invoke(app, ["probe"])
    assert str(result.exception).startswith("options: model: required: give it as an option")


def test_help_defaults_are_the_settings_defaults() -> None:
    import typer

    from valign.interp.explain_job import ExplainSettings
    from valign.interp.probe_job import ProbeSettings
    from valign.interp.steer_job import SteerSettings

    group = typer.main.get_command(app)
    for command, cls in (
        ("explain", ExplainSettings),
        ("probe", ProbeSettings),
        ("steer", SteerSettings),
    ):
        for param in group.commands[command].params:  # type: ignore[attr-defined]
            field = cls.model_fields.get(param.name or "")
            if field is None or field.is_required():
                continue
            default = field.get_default(call_default_factory=True)
            if isinstance(default, tuple):  # typed as one comma-separated string
                default = ",".join(f"{x:g}" if isinstance(x, float) else str(x) for x in default)
            assert param.default == default, (command, param.name)
