"""Torch threads: what is asked, or the cores other work leaves free."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from valign.models import threads


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_chosen", [])
    yield
    torch.set_num_threads(before)


def test_free_cores_leave_out_the_busy_ones_and_keep_one() -> None:
    assert threads.free_cores(cores=2, load=0.2) == 2
    assert threads.free_cores(cores=2, load=1.6) == 1
    assert threads.free_cores(cores=8, load=3.4) == 5
    assert threads.free_cores(cores=2, load=7.0) == 1
    assert 1 <= threads.free_cores() <= threads.usable_cores()


def test_a_busy_machine_gets_fewer_threads_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="valign")
    assert threads.set_threads(0, cores=4, load=2.2) == 2
    assert torch.get_num_threads() == 2
    assert "busy, so torch uses 2 of 4 cores (set threads: N" in caplog.text
    caplog.clear()
    assert threads.set_threads(0, cores=4, load=0.0) == 4
    assert caplog.text == ""


def test_an_explicit_count_is_applied_and_kept_by_later_defaults() -> None:
    assert threads.set_threads(3) == 3
    assert torch.get_num_threads() == 3
    torch.set_num_threads(1)
    assert threads.set_threads(0) == 3  # decided once: this process's own load does not count
    assert torch.get_num_threads() == 3


def test_cpu_times_counts_idle_and_iowait_as_not_busy(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 100 800 20 1 2 3 7 0\ncpu0 1 1 1 1 1 1 1 1\n")
    assert threads._cpu_times(stat) == (211, 1031)


def test_busy_cores_is_the_busy_share_of_the_last_moments(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    samples = iter([(200, 1000), (500, 1400)])  # 300 of 400 jiffies busy
    monkeypatch.setattr(threads, "_cpu_times", lambda stat: next(samples))
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    assert threads.busy_cores(window=0.0) == pytest.approx(3.0)


def test_busy_cores_fall_back_to_the_load_average_without_proc_stat(tmp_path: Path) -> None:
    assert threads.busy_cores(window=0.0, stat=tmp_path / "missing") >= 0.0
