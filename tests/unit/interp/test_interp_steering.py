"""Steering hooks: an exact no-op at zero strength, exact shifts and projections otherwise,
and a gate that leaves unflagged sequences untouched."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from valign.interp.capture import recording
from valign.interp.directions import Direction
from valign.interp.probes import LinearProbe
from valign.interp.sites import parse_sites
from valign.interp.steering import Gate, Steer, probe_gate, steering


def _direction(model: Any, site: str, seed: int = 0) -> Direction:
    d = model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.n_embd
    u = np.random.default_rng(seed).normal(size=d)
    return Direction(site, u / np.linalg.norm(u), 2.0, "mean_difference")


def _ids(tok: Any) -> torch.Tensor:
    rows = [
        tok("Everyone says the Osk are rude.")["input_ids"],
        tok("The day after Monday is Tuesday.")["input_ids"],
    ]
    n = min(map(len, rows))
    return torch.tensor([r[:n] for r in rows])  # (2, n)


def _hooks(model: Any) -> int:
    """Forward hooks on the model (transformers may keep some of its own)."""
    return sum(len(m._forward_hooks) for m in model.modules())


def _run(
    model: Any, ids: torch.Tensor, sites: str = "resid.1,resid.2"
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    with recording(model, parse_sites(sites, model)) as acts, torch.no_grad():
        logits = model(input_ids=ids).logits
    return logits, dict(acts)


def test_zero_strength_is_exactly_the_unsteered_model(tiny_model: Any, tok: Any) -> None:
    ids = _ids(tok)
    before, _ = _run(tiny_model, ids)
    hooks = _hooks(tiny_model)
    steers = [
        Steer(_direction(tiny_model, "resid.1"), 0.0),
        Steer(_direction(tiny_model, "resid.0", 1), 0.0, "project"),
    ]
    with steering(tiny_model, steers):
        during, _ = _run(tiny_model, ids)
        assert _hooks(tiny_model) == hooks  # nothing registered at all
    assert torch.equal(before, during)


def test_add_shifts_the_residual_by_strength_times_scale(tiny_model: Any, tok: Any) -> None:
    ids = _ids(tok)
    d = _direction(tiny_model, "resid.1")
    _, plain = _run(tiny_model, ids)
    hooks = _hooks(tiny_model)
    with steering(tiny_model, [Steer(d, 1.5)]):
        _, steered = _run(tiny_model, ids)
    shift = steered["resid.1"] - plain["resid.1"]  # (batch, seq, d)
    expected = torch.as_tensor(1.5 * 2.0 * d.unit, dtype=shift.dtype).expand_as(shift)
    torch.testing.assert_close(shift, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(steered["resid.2"], plain["resid.2"])  # later layers see it
    assert _hooks(tiny_model) == hooks  # removed on exit


def test_prompt_positions_leave_decoding_steps_alone(tiny_model: Any, tok: Any) -> None:
    ids = _ids(tok)
    d = _direction(tiny_model, "resid.1")
    step = ids[:, -1:]  # (2, 1): what a decoding step with a KV cache feeds the model
    plain_step, _ = _run(tiny_model, step)
    plain_prompt, _ = _run(tiny_model, ids)
    with steering(tiny_model, [Steer(d, 1.0, positions="prompt")]):
        steered_step, _ = _run(tiny_model, step)
        steered_prompt, _ = _run(tiny_model, ids)
    assert torch.equal(plain_step, steered_step)
    assert not torch.allclose(plain_prompt, steered_prompt)


def test_project_removes_the_component(tiny_model: Any, tok: Any) -> None:
    ids = _ids(tok)
    d = _direction(tiny_model, "resid.1")
    u = torch.as_tensor(d.unit, dtype=torch.float32)
    _, plain = _run(tiny_model, ids)
    with steering(tiny_model, [Steer(d, 1.0, "project")]):
        _, steered = _run(tiny_model, ids)
    assert (steered["resid.1"] @ u).abs().max() < 1e-4
    assert (plain["resid.1"] @ u).abs().max() > 1e-2
    with steering(tiny_model, [Steer(d, 0.5, "project")]):
        _, half = _run(tiny_model, ids)
    torch.testing.assert_close(
        half["resid.1"] @ u, 0.5 * (plain["resid.1"] @ u), atol=1e-4, rtol=1e-4
    )


def test_gate_steers_only_flagged_sequences(tiny_model: Any, tok: Any) -> None:
    ids = _ids(tok)
    d = _direction(tiny_model, "resid.1")
    _, plain = _run(tiny_model, ids)
    scores = plain["resid.1"][:, -1] @ torch.as_tensor(d.unit, dtype=torch.float32)  # (2,)
    threshold = float(scores.mean())  # exactly one sequence is above
    with steering(tiny_model, [Steer(d, 1.0)], Gate(d, threshold)):
        _, steered = _run(tiny_model, ids)
    changed = [not torch.allclose(steered["resid.1"][i], plain["resid.1"][i]) for i in range(2)]
    assert changed == [bool(s > threshold) for s in scores] and sum(changed) == 1
    with (
        pytest.raises(ValueError, match="gate"),
        steering(tiny_model, [Steer(_direction(tiny_model, "resid.0"), 1.0)], Gate(d, 0.0)),
    ):
        pass
    with (
        pytest.raises(ValueError, match="resid sites only"),
        steering(tiny_model, [Steer(_direction(tiny_model, "attn.0"), 1.0)]),
    ):
        pass


def test_probe_gate_opens_where_the_probe_says_positive() -> None:
    rng = np.random.default_rng(0)
    probe = LinearProbe(rng.normal(size=4), 0.3, rng.normal(size=4), rng.random(4) + 0.5)
    gate = probe_gate("resid.0", probe)
    x = rng.normal(size=(200, 4)) * 3
    opened = x @ gate.direction.unit > gate.threshold
    assert (opened == (probe.decision(x) > 0)).all() and 0 < opened.sum() < 200
