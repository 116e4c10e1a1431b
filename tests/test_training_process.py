"""Tests of the training process (app.training_process) without a window: steering, imports.

The GUI tests (test_train_tab.py) drive the same process through the Train tab; these check
what the tab relies on at the process boundary on a small synthetic MNIST folder.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_parallel import no_worker_left_behind  # noqa: F401 (a fixture)
from test_training_worker import GEOMETRY, SMALL_NETWORK, write_digit_folder

from app.heatmap import HeatmapGeometry
from app.training_process import RunControl, TrainingRun, TrainingService
from app.training_worker import (
    Finished,
    Message,
    Progress,
    RunPaused,
    TrainingJob,
    WeightsUpdate,
)
from engine.network import Network
from engine.train import TrainConfig

RUN_SECONDS = 60.0
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a synthetic MNIST folder: 400 training and 100 test digits."""
    return write_digit_folder(tmp_path_factory.mktemp("digits"), 400, 100)


@pytest.fixture
def service() -> TrainingService:
    """Yield a training service; end its process afterwards."""
    started = TrainingService()
    yield started
    started.shutdown()


def next_message(run: TrainingRun, kind: type) -> Message:
    """Return the run's next message of a kind, skipping others; fail after RUN_SECONDS."""
    deadline = time.perf_counter() + RUN_SECONDS
    while True:
        try:
            message = run.get_nowait()
        except queue.Empty:
            assert time.perf_counter() < deadline, f"no {kind.__name__} in time"
            time.sleep(0.01)
            continue
        if isinstance(message, kind):
            return message


def test_the_training_process_imports_no_tk():
    code = "import sys, app.training_process; print(sorted(m for m in sys.modules if 'tk' in m))"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_run_control_checks_values_here_and_keeps_track_of_pauses():
    sent: list[tuple] = []
    control = RunControl(sent.append)
    control.pause()
    assert control.paused
    control.resume()
    assert not control.paused
    control.step(3)
    assert control.paused  # a step ends paused
    control.stop()
    assert not control.paused
    for bad in (lambda: control.set_learning_rate(-1.0), lambda: control.set_momentum(1.0)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError):
        control.step(0)
    assert [command[1] for command in sent] == ["pause", "resume", "step", "stop"]


def test_every_knob_reaches_the_run_in_the_training_process(service, digit_folder):
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=0.1, schedule="constant")
    job = TrainingJob(Network.create(SMALL_NETWORK, seed=0), config, digit_folder, GEOMETRY)
    run = service.start(job)
    run.control.pause()
    assert next_message(run, RunPaused) == RunPaused(epoch=1, batch=1, samples_seen=0)

    run.control.set_learning_rate(0.05)
    run.control.set_momentum(0.5)
    run.control.set_weight_decay(0.001)
    run.control.step(2)
    stepped = next_message(run, RunPaused)
    assert (stepped.epoch, stepped.batch, stepped.samples_seen) == (1, 3, 32)
    run.control.extend_epochs(1)
    run.control.resume()
    progress = next_message(run, Progress)
    assert (progress.batch.momentum, progress.batch.weight_decay) == (0.5, 0.001)
    assert progress.batch.learning_rate == 0.05
    finished = next_message(run, Finished)
    assert finished.result.epochs_completed == 2
    assert finished.result.network.metadata["momentum"] == 0.5
    assert not run.alive


def test_heatmaps_are_drawn_for_the_page_size_the_tab_reports_last(service, digit_folder):
    config = TrainConfig(epochs=1, batch_size=16)
    job = TrainingJob(Network.create(SMALL_NETWORK, seed=0), config, digit_folder, GEOMETRY)
    run = service.start(job)
    run.control.pause()
    first = next_message(run, WeightsUpdate)  # the untrained network's, before training
    next_message(run, RunPaused)
    larger = HeatmapGeometry((900, 500), 2, (200, 200, 200), (100, 40))
    run.control.resume()
    run.set_geometry(larger)
    updates = [first]
    while not isinstance(message := next_message(run, object), Finished):
        if isinstance(message, WeightsUpdate):
            updates.append(message)
    assert first.heatmaps.mosaic.width <= 300  # drawn for the job's 300×100 box
    assert 300 < updates[-1].heatmaps.mosaic.width <= 900, "the last heatmaps fill the new box"
