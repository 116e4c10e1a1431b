"""The training loop: learning, events, stop, pause, live learning rate, divergence."""

import math
import random
import threading
import time

import pytest

from engine.mnist import Dataset
from engine.network import Network
from engine.train import (
    BatchEnd,
    EpochEnd,
    TrainConfig,
    TrainingControl,
    WeightsSnapshot,
    scheduled_learning_rate,
    train,
)


def pattern_dataset(count: int, seed: int, classes: int = 3) -> Dataset:
    """Return images where class k is a thick horizontal bar at a class-specific height."""
    rng = random.Random(seed)
    images, labels = [], []
    for _ in range(count):
        label = rng.randrange(classes)
        pixels = bytearray(784)
        top = 4 + 7 * label + rng.randrange(-1, 2)
        for row in range(top, top + 3):
            for column in range(4 + rng.randrange(3), 24 - rng.randrange(3)):
                pixels[row * 28 + column] = rng.choice([180, 255])
        images.append(bytes(pixels))
        labels.append(label)
    return Dataset(images=images, labels=labels)


def test_training_learns_and_reports_events():
    events = []
    result = train(
        Network.create([784, 16, 10], "relu", seed=0),
        pattern_dataset(300, seed=1),
        pattern_dataset(100, seed=2),
        TrainConfig(epochs=2, batch_size=10, learning_rate=0.1),
        on_event=events.append,
    )
    assert result.reason == "finished"
    assert result.test_accuracy >= 0.95
    batches = [e for e in events if isinstance(e, BatchEnd)]
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert len(batches) == 60 and len(epochs) == 2
    assert batches[-1].samples_seen == 600 and batches[-1].total_samples == 600
    assert epochs[-1].test_accuracy == result.test_accuracy
    assert batches[-1].running_loss < batches[0].running_loss
    assert result.network.metadata["test_accuracy"] == result.test_accuracy
    assert result.network.metadata["epochs"] == 2


def test_training_is_reproducible_with_a_seed():
    def run():
        return train(
            Network.create([784, 8, 10], "tanh", seed=3),
            pattern_dataset(100, seed=4),
            None,
            TrainConfig(epochs=1, batch_size=8, seed=9),
        ).network.weights

    assert run() == run()


def test_stop_event_ends_the_run_within_a_batch():
    control = TrainingControl()
    seen = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, BatchEnd) and event.batch == 3:
            control.stop()

    result = train(
        Network.create([784, 16, 10], "relu", seed=0),
        pattern_dataset(400, seed=1),
        None,
        TrainConfig(epochs=5, batch_size=10),
        on_event=on_event,
        control=control,
    )
    assert result.reason == "stopped"
    assert len([e for e in seen if isinstance(e, BatchEnd)]) == 3


def test_new_learning_rate_reaches_the_running_loop():
    control = TrainingControl()
    rates = []

    def on_event(event):
        if isinstance(event, BatchEnd):
            rates.append(event.learning_rate)
            if event.batch == 2:
                control.set_learning_rate(0.02)

    train(
        Network.create([784, 8, 10], "relu", seed=0),
        pattern_dataset(50, seed=1),
        None,
        TrainConfig(epochs=1, batch_size=10, learning_rate=0.1, schedule="constant"),
        on_event=on_event,
        control=control,
    )
    assert rates == [0.1, 0.1, 0.02, 0.02, 0.02]


def test_pause_holds_the_loop_until_resume():
    control = TrainingControl()
    times = []

    def on_event(event):
        if isinstance(event, BatchEnd):
            times.append(time.monotonic())
            if event.batch == 1:
                control.pause()
                threading.Timer(0.3, control.resume).start()

    train(
        Network.create([784, 8, 10], "relu", seed=0),
        pattern_dataset(30, seed=1),
        None,
        TrainConfig(epochs=1, batch_size=10),
        on_event=on_event,
        control=control,
    )
    assert len(times) == 3
    assert times[1] - times[0] >= 0.25


def test_snapshot_request_sends_current_weights():
    control = TrainingControl()
    control.request_snapshot()
    snapshots = []
    train(
        Network.create([784, 6, 10], "sigmoid", seed=0),
        pattern_dataset(20, seed=1),
        None,
        TrainConfig(epochs=1, batch_size=10),
        on_event=lambda e: snapshots.append(e) if isinstance(e, WeightsSnapshot) else None,
        control=control,
    )
    assert len(snapshots) == 1
    weights = snapshots[0].weights
    assert [len(weights[0]), len(weights[0][0]), len(weights[1]), len(weights[1][0])] == [
        6,
        784,
        10,
        6,
    ]


@pytest.mark.parametrize("learning_rate", [10.0, 1e5])
def test_divergence_stops_with_a_message_and_finite_weights(learning_rate):
    result = train(
        Network.create([784, 32, 10], "relu", seed=0),
        pattern_dataset(600, seed=1),
        None,
        TrainConfig(epochs=3, batch_size=10, learning_rate=learning_rate, schedule="constant"),
    )
    assert result.reason == "diverged"
    assert "diverged" in result.message and "smaller learning rate" in result.message
    values = [w for layer in result.network.weights for row in layer for w in row]
    assert all(math.isfinite(v) and abs(v) < 10 for v in values)


def test_augmented_training_still_learns():
    result = train(
        Network.create([784, 16, 10], "relu", seed=0),
        pattern_dataset(300, seed=1),
        pattern_dataset(100, seed=2),
        TrainConfig(epochs=2, batch_size=10, augment=True),
    )
    assert result.test_accuracy >= 0.9


def test_schedules():
    assert scheduled_learning_rate(0.1, "constant", 0.7) == 0.1
    assert scheduled_learning_rate(0.1, "cosine", 0.0) == pytest.approx(0.1)
    assert scheduled_learning_rate(0.1, "cosine", 0.5) == pytest.approx(0.05)
    assert scheduled_learning_rate(0.1, "step", 0.8) == pytest.approx(0.001)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="learning rate"):
        TrainConfig(learning_rate=-1)
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="sometimes")
