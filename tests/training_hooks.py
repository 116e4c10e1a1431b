"""Training-process entries for the GUI tests: the real `serve`, with one thing changed first.

The training process is started with the "spawn" method, so a test cannot monkeypatch it; a
test gives the tab a `TrainingService` whose process starts at one of these functions instead
(importable by name, as spawn needs).
"""

from __future__ import annotations

from multiprocessing.connection import Connection

from app import training_worker
from app.training_process import serve

FREQUENT_SNAPSHOT_SECONDS = 0.05


def broken_train(*_arguments: object) -> None:
    """Fail as an engine bug would."""
    raise RuntimeError("the engine broke")


def broken_evaluate(*_arguments: object, **_options: object) -> None:
    """Fail as a bug in testing the trained network would."""
    raise ValueError("nothing to evaluate")


def serve_with_frequent_snapshots(commands: Connection, messages: Connection) -> None:
    """Serve with heatmaps every 50 ms, so that a short test run shows several."""
    training_worker.SNAPSHOT_INTERVAL_SECONDS = FREQUENT_SNAPSHOT_SECONDS
    serve(commands, messages)


def serve_with_broken_train(commands: Connection, messages: Connection) -> None:
    """Serve with a training function that raises."""
    training_worker.train = broken_train
    serve(commands, messages)


def serve_with_broken_evaluate(commands: Connection, messages: Connection) -> None:
    """Serve with a test evaluation that raises."""
    training_worker.evaluate = broken_evaluate
    serve(commands, messages)
