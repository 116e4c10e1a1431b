"""The training loop: learning, events, stop, pause, live learning rate, divergence."""

import math
import random
import threading
import time

import pytest

from engine.mnist import Dataset
from engine.network import Network
from engine.train import (
    MAX_DIVERGENCES_IN_A_ROW,
    BatchEnd,
    DivergenceRecovered,
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


def final_weights(result):
    return [w for layer in result.network.weights for row in layer for w in row]


@pytest.mark.parametrize("learning_rate", [10.0, 1e5])
def test_the_stop_policy_ends_a_diverging_run_with_finite_weights(learning_rate):
    events = []
    result = train(
        Network.create([784, 32, 10], "relu", seed=0),
        pattern_dataset(600, seed=1),
        None,
        TrainConfig(
            epochs=3,
            batch_size=10,
            learning_rate=learning_rate,
            schedule="constant",
            on_divergence="stop",
        ),
        on_event=events.append,
    )
    assert result.reason == "diverged"
    assert result.divergences == 1
    assert result.final_learning_rate == learning_rate
    assert "diverged" in result.message and "smaller learning rate" in result.message
    assert not any(isinstance(e, DivergenceRecovered) for e in events)
    assert all(math.isfinite(v) and abs(v) < 10 for v in final_weights(result))


def test_a_run_at_learning_rate_10_recovers_and_learns():
    events = []
    control = TrainingControl()
    result = train(
        Network.create([784, 32, 10], "relu", seed=0),
        pattern_dataset(600, seed=1),
        pattern_dataset(150, seed=2),
        TrainConfig(epochs=3, batch_size=10, learning_rate=10.0, schedule="constant"),
        on_event=events.append,
        control=control,
    )
    recoveries = [e for e in events if isinstance(e, DivergenceRecovered)]
    assert result.reason == "finished"
    assert result.test_accuracy > 0.9  # chance is 1/3
    assert result.divergences == len(recoveries) >= 1
    rates = [10.0] + [e.learning_rate for e in recoveries]
    assert [e.previous_learning_rate for e in recoveries] == rates[:-1]
    assert all(new == old * 0.5 for old, new in zip(rates, rates[1:]))
    assert result.final_learning_rate == rates[-1] == control.learning_rate(10.0)
    assert f"lowered the learning rate to {rates[1]:g}" in recoveries[0].message
    assert "recovering from" in result.message
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert batches[-1].learning_rate == rates[-1]
    assert result.network.metadata["divergences"] == result.divergences
    assert result.network.metadata["final_learning_rate"] == rates[-1]


def test_a_run_that_keeps_diverging_gives_up_with_the_last_good_weights():
    result = train(
        Network.create([784, 32, 10], "relu", seed=0),
        pattern_dataset(600, seed=1),
        None,
        TrainConfig(epochs=3, batch_size=10, learning_rate=1e6, schedule="constant"),
    )
    assert result.reason == "diverged"
    assert result.divergences == MAX_DIVERGENCES_IN_A_ROW
    assert f"{MAX_DIVERGENCES_IN_A_ROW} times in a row" in result.message
    assert result.final_learning_rate == 1e6 * 0.5 ** (MAX_DIVERGENCES_IN_A_ROW - 1)
    assert all(math.isfinite(v) and abs(v) < 10 for v in final_weights(result))


def test_a_live_learning_rate_that_diverges_is_lowered_and_the_run_goes_on():
    control = TrainingControl()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, BatchEnd) and event.epoch == 2 and event.batch == 1:
            control.set_learning_rate(1000.0)

    result = train(
        Network.create([784, 16, 10], "relu", seed=0),
        pattern_dataset(300, seed=1),
        pattern_dataset(100, seed=2),
        TrainConfig(epochs=3, batch_size=10, learning_rate=0.1, schedule="constant"),
        on_event=on_event,
        control=control,
    )
    recoveries = [e for e in events if isinstance(e, DivergenceRecovered)]
    assert result.reason == "finished"
    assert recoveries and recoveries[0].previous_learning_rate == 1000.0
    assert recoveries[0].epoch == 2
    assert result.final_learning_rate < 1000.0
    assert result.test_accuracy >= 0.95
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2, 3]


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
    with pytest.raises(ValueError, match="divergence policy"):
        TrainConfig(on_divergence="panic")
