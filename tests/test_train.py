"""The training loop: learning, events, stop, pause, live learning rate, divergence."""

import math
import queue
import random
import threading
import time

import pytest

from engine.fast import MIN_PROBABILITY, FastNetwork, sparse_image
from engine.mnist import Dataset
from engine.network import Network
from engine.train import (
    MAX_DIVERGENCES_IN_A_ROW,
    BatchEnd,
    DivergenceRecovered,
    EpochEnd,
    Paused,
    TrainConfig,
    TrainingControl,
    WeightsSnapshot,
    measure,
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


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_training_is_reproducible_with_a_seed(activation, momentum):
    def run(seed: int) -> list:
        return train(
            Network.create([784, 8, 10], activation, seed=3),
            pattern_dataset(100, seed=4),
            None,
            TrainConfig(epochs=2, batch_size=8, seed=seed, momentum=momentum),
        ).network.weights

    assert run(9) == run(9)
    assert run(9) != run(10)


def test_skipped_backward_passes_are_counted_everywhere():
    events = []
    result = train(
        Network.create([784, 16, 10], "relu", seed=0),
        pattern_dataset(300, seed=1),
        None,
        TrainConfig(epochs=3, batch_size=10, learning_rate=0.1, skip_confidence=0.9),
        on_event=events.append,
    )
    batches = [e for e in events if isinstance(e, BatchEnd)]
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert sum(e.skipped for e in batches) == result.skipped_samples
    assert [e.skipped_samples for e in epochs] == [
        sum(e.skipped for e in batches if e.epoch == epoch) for epoch in (1, 2, 3)
    ]
    # Confident samples are rare at first and common once the patterns are learnt.
    assert epochs[0].skipped_samples < epochs[2].skipped_samples
    assert epochs[2].skipped_samples > 150
    assert result.network.metadata["skip_confidence"] == 0.9
    never = train(
        Network.create([784, 16, 10], "relu", seed=0),
        pattern_dataset(300, seed=1),
        None,
        TrainConfig(epochs=1, batch_size=10, learning_rate=0.1, skip_confidence=1.0),
    )
    assert never.skipped_samples == 0


def test_one_cycle_warms_up_then_falls_as_a_cosine():
    rates = [scheduled_learning_rate(0.7, "one-cycle", step / 100) for step in range(101)]
    assert rates[0] == pytest.approx(0.07)
    assert rates[10] == pytest.approx(0.7) and max(rates) == rates[10]
    assert rates[55] == pytest.approx(0.35)
    assert rates[100] == pytest.approx(0.0)
    assert all(a < b for a, b in zip(rates[:10], rates[1:11]))
    assert all(a > b for a, b in zip(rates[10:100], rates[11:101]))


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


def flat_weights(network):
    return [w for layer in network.weights for row in layer for w in row]


def run_with_live_settings(momentum, weight_decay=0.0, live=None):
    """Train 2 epochs; after the first batch apply live(control); return (result, events)."""
    control = TrainingControl()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, BatchEnd) and (event.epoch, event.batch) == (1, 1) and live:
            live(control)

    result = train(
        Network.create([784, 16, 10], "relu", seed=0),
        pattern_dataset(300, seed=1),
        None,
        TrainConfig(
            epochs=2,
            batch_size=10,
            momentum=momentum,
            weight_decay=weight_decay,
            schedule="constant",
        ),
        on_event=on_event,
        control=control,
    )
    return result, [e for e in events if isinstance(e, BatchEnd)]


def test_live_momentum_takes_effect_from_the_next_batch():
    switched, batches = run_with_live_settings(0.9, live=lambda c: c.set_momentum(0.0))
    without, _ = run_with_live_settings(0.0)
    kept, _ = run_with_live_settings(0.9)
    assert [b.momentum for b in batches[:3]] == [0.9, 0.0, 0.0]
    # The first batch's step does not depend on the momentum (the velocity starts at zero),
    # so switching it off after one batch ends near a run that never had any.
    near = math.dist(flat_weights(switched.network), flat_weights(without.network))
    far = math.dist(flat_weights(switched.network), flat_weights(kept.network))
    assert near < far / 20
    assert switched.network.metadata["momentum"] == 0.0


def test_live_weight_decay_shrinks_the_weights():
    decayed, batches = run_with_live_settings(0.9, live=lambda c: c.set_weight_decay(0.5))
    plain, _ = run_with_live_settings(0.9)
    assert [b.weight_decay for b in batches[:3]] == [0.0, 0.5, 0.5]
    assert math.hypot(*flat_weights(decayed.network)) < 0.5 * math.hypot(
        *flat_weights(plain.network)
    )
    assert decayed.network.metadata["weight_decay"] == 0.5


def test_settings_set_before_the_run_replace_the_config_exactly():
    control = TrainingControl()
    control.set_momentum(0.0)
    control.set_weight_decay(0.01)
    config = TrainConfig(epochs=1, batch_size=10, momentum=0.9)
    overridden = train(
        Network.create([784, 8, 10], "relu", seed=0),
        pattern_dataset(100, seed=1),
        None,
        config,
        control=control,
    )
    direct = train(
        Network.create([784, 8, 10], "relu", seed=0),
        pattern_dataset(100, seed=1),
        None,
        TrainConfig(epochs=1, batch_size=10, momentum=0.0, weight_decay=0.01),
    )
    assert overridden.network.weights == direct.network.weights


def test_live_settings_are_checked():
    control = TrainingControl()
    with pytest.raises(ValueError, match="momentum"):
        control.set_momentum(1.0)
    with pytest.raises(ValueError, match="weight decay"):
        control.set_weight_decay(-0.1)
    with pytest.raises(ValueError, match="learning rate"):
        control.set_learning_rate(math.nan)
    with pytest.raises(ValueError, match="at least one batch"):
        control.step(0)
    assert (control.momentum(0.9), control.weight_decay(0.0)) == (0.9, 0.0)


class BackgroundRun:
    """Train on a thread, as the app does, paused before the first batch; the test thread
    reads the events and steers."""

    def __init__(self, config: TrainConfig, images: int) -> None:
        self.control = TrainingControl()
        self.control.pause()
        self.events: queue.Queue = queue.Queue()
        self.seen: list = []
        self.result = None
        self._thread = threading.Thread(
            target=self._train, args=(config, pattern_dataset(images, seed=1)), daemon=True
        )
        self._thread.start()

    def _train(self, config: TrainConfig, dataset) -> None:
        network = Network.create([784, 8, 10], "relu", seed=0)
        self.result = train(network, dataset, None, config, self.events.put, self.control)

    def next_of(self, kind):
        """Return the next event of that kind, keeping every event seen on the way."""
        while True:
            event = self.events.get(timeout=10)
            self.seen.append(event)
            if isinstance(event, kind):
                return event

    def finish(self):
        self._thread.join(10)
        assert not self._thread.is_alive()
        while not self.events.empty():
            self.seen.append(self.events.get())
        return self.result


def test_step_trains_that_many_batches_then_pauses():
    run = BackgroundRun(TrainConfig(epochs=1, batch_size=10), images=100)
    first = run.next_of(Paused)
    assert (first.epoch, first.batch, first.samples_seen) == (1, 1, 0)
    run.control.step(3)
    second = run.next_of(Paused)
    assert (second.epoch, second.batch, second.samples_seen) == (1, 4, 30)
    assert len(events_of(run.seen, BatchEnd)) == 3
    run.control.resume()
    result = run.finish()
    assert result.reason == "finished"
    assert len(events_of(run.seen, BatchEnd)) == 10
    assert len(events_of(run.seen, Paused)) == 2


def events_of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_one_more_epoch_on_a_paused_run_at_its_end():
    run = BackgroundRun(TrainConfig(epochs=2, batch_size=10), images=50)
    run.next_of(Paused)
    run.control.step(10)  # the whole run: it then waits, paused, after its last batch
    at_end = run.next_of(Paused)
    assert (at_end.epoch, at_end.batch, at_end.samples_seen) == (3, 1, 100)
    run.control.extend_epochs(1)  # "+1 epoch"
    run.control.step(5)
    after = run.next_of(Paused)
    assert (after.epoch, after.samples_seen) == (4, 150)
    run.control.stop()
    result = run.finish()
    assert result.reason == "finished"  # every epoch asked for was trained
    assert [e.epochs for e in result.history] == [2, 2, 3]
    assert events_of(run.seen, BatchEnd)[-1].total_samples == 150


def test_extend_epochs_lengthens_a_running_run():
    run = BackgroundRun(TrainConfig(epochs=1, batch_size=10), images=30)
    run.next_of(Paused)
    run.control.step(1)
    run.next_of(BatchEnd)
    run.control.extend_epochs(2)
    run.control.resume()
    result = run.finish()
    assert result.reason == "finished"
    assert [e.epochs for e in result.history] == [3, 3, 3]
    assert result.network.metadata["epochs"] == 3
    assert [e.total_samples for e in events_of(run.seen, BatchEnd)][:2] == [30, 90]


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


# Learning rate 10 with momentum makes the loss climb until divergence is detected; plain SGD
# (the default) steps so far within the first batch that the ReLU units die and the loss stays
# at chance level instead, which these tests of the recovery machinery do not exercise.
MOMENTUM_THAT_DIVERGES = 0.9


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
            momentum=MOMENTUM_THAT_DIVERGES,
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
        TrainConfig(
            epochs=3,
            batch_size=10,
            learning_rate=10.0,
            schedule="constant",
            momentum=MOMENTUM_THAT_DIVERGES,
        ),
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


def test_an_image_the_network_cannot_read_is_measured_as_read_wrong():
    network = Network.create([784, 8, 10], "relu", seed=0)
    network.weights[0] = [[5.0] * 784 for _ in range(8)]
    network.weights[1] = [[1000.0 * (digit + 1)] * 8 for digit in range(10)]
    fast = FastNetwork(network)
    full = sparse_image(bytes([255]) * 784)  # its output sums leave their 64-bit lanes
    one_pixel = sparse_image(bytes(783) + bytes([255]))

    loss_sum, correct = measure(fast, [(full, 9), (one_pixel, 9)], threading.Event())

    assert correct == 1, "the unreadable image is wrong, the other read as 9"
    assert loss_sum == pytest.approx(-math.log(MIN_PROBABILITY), rel=0.01)


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


def test_training_refuses_a_start_model_whose_weights_overflow_the_lanes():
    network = Network.create([784, 8, 10], seed=2)
    network.weights[0] = [[w * 1e5 for w in row] for row in network.weights[0]]
    dataset = Dataset([bytes(784)] * 4, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="first-layer weights are too large for training"):
        train(network, dataset, None, TrainConfig(epochs=1))
    for confidence in (0.0, 1.5):
        with pytest.raises(ValueError, match="skip confidence"):
            TrainConfig(skip_confidence=confidence)
