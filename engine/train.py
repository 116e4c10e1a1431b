"""The training loop the CLI and the app drive: mini-batch SGD on the fast path, with events.

`train` runs epochs of shuffled mini-batches through `FastNetwork.train_batch` and reports
progress as small frozen dataclasses passed to an `on_event` callback (`BatchEnd` after every
batch, `WeightsSnapshot` when asked for, `EpochEnd` after each epoch, `DivergenceRecovered`,
`Paused`, and `NetworkStatistics` when `statistics_seconds` is given). A `TrainingControl`
steers a run from another thread: stop (honoured within one batch, a few milliseconds), pause
and resume, a step of N batches, more epochs, a new base learning rate, momentum and weight
decay, and requests for weight snapshots.

Divergence (a non-finite loss, a fixed-point overflow, or a running loss far above where it
started) is recovered from by default (`TrainConfig.on_divergence == "recover"`): the loop goes
back to the last good weights (a checkpoint taken after CHECKPOINT_EVERY_BATCHES batches whose
mean loss is the best so far and below the first batch's), halves the base learning rate (in
the `TrainingControl` too, so a rate set live is lowered as well), reports a
`DivergenceRecovered` event and goes on with the next batch. After MAX_DIVERGENCES_IN_A_ROW
divergences with no good checkpoint between them, or at the first one under the "stop" policy,
the run ends with reason "diverged" and the last good weights, never NaNs.

With `TrainConfig.workers` above 1, `train` hands the run to `engine.parallel`, which runs this
same loop in every worker process on a share of the data; the loop meets the other workers
only through the hooks of a `Team`, which for one process does nothing.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.augment import AugmentSettings, augment
from engine.fast import (
    NARROW_LANE_BITS,
    WIDE_LANE_BITS,
    Diverged,
    FastNetwork,
    SparseImage,
    sparse_image,
)
from engine.lanes import LaneOverflow
from engine.layerstats import LayerStatistics, StatisticsProbe
from engine.mnist import Dataset
from engine.network import Network
from engine.reference import loss_value

SCHEDULES = ("constant", "cosine", "step", "one-cycle")
# One-cycle: the rate climbs from WARMUP_START × base to base over the first WARMUP_SHARE of
# the run, then falls to 0 along half a cosine.
WARMUP_SHARE = 0.1
WARMUP_START = 0.1
DIVERGENCE_POLICIES = ("recover", "stop")
MAX_DIVERGENCES_IN_A_ROW = 8
RECOVERY_RATE_FACTOR = 0.5
LOSS_SMOOTHING = 0.98
DIVERGENCE_FACTOR = 3.0
DIVERGENCE_WARMUP_BATCHES = 20
CHECKPOINT_EVERY_BATCHES = 25
PAUSE_POLL_SECONDS = 0.05
EVALUATION_CHUNK = 500
STATISTICS_COST_SHARE = 0.02
MAX_WORKERS = 64
# The shipped default's recipe ("hands", models/README.md). People draw with thicker or
# thinner pens than MNIST's writers and bend their strokes, so strokes vary (30% of digits) and
# warp by 1 px. A quarter of the digits is made 0.45-1.75 times as wide, which reads narrow and
# wide hands (narrow 86.6 -> 95.1% on 784-1024-10), but never a 1 or a 7 narrowed (a narrowed
# 7 is a flagged 1). 15% of 0s, 1s and 7s get a slash, a flag or a bar (slashed zeros
# 68.5 -> 99.1%, flagged 1s 82.2 -> 93.8%). Twice as many of either cost MNIST accuracy and
# typeset 6s and 9s; a slant on top was worse on the other kinds.
AUGMENT_SETTINGS = AugmentSettings(
    stroke_change_probability=0.3,
    warp=1.0,
    aspect_range=(0.45, 1.75),
    reshape_probability=0.25,
    unnarrowed_digits=(1, 7),
    mark_probability=0.15,
)


@dataclass(frozen=True)
class TrainConfig:
    """Hold the settings of one training run (learning rate is per batch-mean gradient).

    The defaults are the recipe that takes 784-128-10 to 98% on MNIST fastest: plain SGD
    (momentum 0: each step written straight into the packed weights, the fast path's cheapest
    rule) at 0.7 with a one-cycle schedule, 4 epochs. Momentum > 0 keeps velocities, at about
    1.5× the time a sample, and wants a smaller rate (0.05 with 0.9). A sample the network
    already reads right with p[label] > skip_confidence skips its backward pass; 1.0 never skips.
    With `workers` > 1 each worker steps at the learning rate and the workers' changes are
    added up when they meet, so every image moves the weights as much as in one process.
    """

    epochs: int = 4
    batch_size: int = 32
    learning_rate: float = 0.7
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "one-cycle"
    augment: bool = False
    seed: int = 0
    limit: int | None = None
    on_divergence: str = "recover"
    workers: int = 1
    skip_confidence: float = 0.99

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError("epochs must be at least 1")
        if not 1 <= self.batch_size <= 4096:
            raise ValueError("batch size must be between 1 and 4096")
        check_learning_rate(self.learning_rate)
        check_momentum(self.momentum)
        check_weight_decay(self.weight_decay)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be at least 1 image")
        if self.on_divergence not in DIVERGENCE_POLICIES:
            raise ValueError(
                f"unknown divergence policy {self.on_divergence!r};"
                f" choose one of {DIVERGENCE_POLICIES}"
            )
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
        if not 0.0 < self.skip_confidence <= 1.0:
            raise ValueError("skip confidence must be in (0, 1]; 1 never skips")


def check_learning_rate(learning_rate: float) -> None:
    """Raise ValueError unless the learning rate is a positive finite number."""
    if not (learning_rate > 0.0 and math.isfinite(learning_rate)):
        raise ValueError("learning rate must be a positive number")


def check_momentum(momentum: float) -> None:
    """Raise ValueError unless the momentum is in [0, 1)."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError("momentum must be in [0, 1)")


def check_weight_decay(weight_decay: float) -> None:
    """Raise ValueError unless the weight decay (per unit of learning rate) is in [0, 1)."""
    if not 0.0 <= weight_decay < 1.0:
        raise ValueError("weight decay must be in [0, 1)")


@dataclass(frozen=True)
class BatchEnd:
    """Report one finished mini-batch (losses are per sample; learning rate, momentum and weight
    decay as applied to it). `total_samples` grows when `TrainingControl.extend_epochs` adds
    epochs."""

    epoch: int
    batch: int
    batches_per_epoch: int
    samples_seen: int
    total_samples: int
    loss: float
    running_loss: float
    learning_rate: float
    samples_per_second: float
    elapsed_seconds: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    skipped: int = 0

    def remaining_seconds(self) -> float | None:
        """Return the training time left at the run's average speed so far (None at first)."""
        if self.samples_seen == 0 or self.elapsed_seconds <= 0:
            return None
        return self.elapsed_seconds * (self.total_samples - self.samples_seen) / self.samples_seen


@dataclass(frozen=True)
class EpochEnd:
    """Report one finished epoch; test figures are None when there is no test set."""

    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    test_loss: float | None
    test_accuracy: float | None
    samples_per_second: float
    elapsed_seconds: float
    skipped_samples: int = 0


@dataclass(frozen=True)
class WeightsSnapshot:
    """Carry a copy of every layer's weights, `weights[layer][j][i]`, taken between batches."""

    weights: list[list[list[float]]]
    samples_seen: int


@dataclass(frozen=True)
class DivergenceRecovered:
    """Report a divergence the run recovered from; training goes on with the next batch.

    The weights went back to the last good checkpoint (momentum cleared) and the base learning
    rate fell from `previous_learning_rate` to `learning_rate` (what a learning-rate slider
    should now show; the schedule still applies on top). `divergences` counts this run's
    divergences so far, `in_a_row` those since the last good checkpoint: the run gives up at
    MAX_DIVERGENCES_IN_A_ROW. `message` is one sentence for a log or status line.
    """

    epoch: int
    batch: int
    samples_seen: int
    cause: str
    previous_learning_rate: float
    learning_rate: float
    divergences: int
    in_a_row: int
    message: str


@dataclass(frozen=True)
class NetworkStatistics:
    """Carry every weight layer's statistics (input side first; see `engine.layerstats`):
    gradient norm, weight histogram and dead ReLU units, measured on `probe_images` fixed
    training images during epoch `epoch`, after `samples_seen` samples. `cost_seconds` is the
    training time measuring them took (converting the weights included)."""

    layers: tuple[LayerStatistics, ...]
    epoch: int
    samples_seen: int
    probe_images: int
    cost_seconds: float


@dataclass(frozen=True)
class Paused:
    """Say that the run now waits before batch `batch` (1-based) of epoch `epoch`, with
    `samples_seen` samples trained: `TrainingControl.pause` was called or a `step` finished.
    Sent once per pause, before the loop blocks. A run paused after its last epoch waits too
    (epoch is then one past the last), so `extend_epochs` can still give it more."""

    epoch: int
    batch: int
    samples_seen: int


TrainingEvent = (
    BatchEnd | EpochEnd | WeightsSnapshot | DivergenceRecovered | Paused | NetworkStatistics
)


@dataclass
class TrainingResult:
    """Describe how a run ended: reason is "finished", "stopped" or "diverged".

    `divergences` counts the divergences of the run (recovered ones included) and
    `final_learning_rate` is the base learning rate in force at the end (lower than the
    configured one after a recovery, or whatever was set live). `first_loss` is the mean loss
    of the first batch (None if no batch finished).
    """

    network: Network
    reason: str
    message: str
    train_seconds: float
    samples_per_second: float
    epochs_completed: int
    test_accuracy: float | None
    history: list[EpochEnd] = field(default_factory=list)
    divergences: int = 0
    final_learning_rate: float = 0.0
    first_loss: float | None = None
    skipped_samples: int = 0


@dataclass(frozen=True)
class EpochFigures:
    """Sums over one epoch: training loss, right answers and samples; the same for the test;
    samples whose backward pass was skipped."""

    train_loss_sum: float
    train_correct: int
    train_seen: int
    test_loss_sum: float
    test_correct: int
    test_count: int
    skipped: int


@dataclass(frozen=True)
class Ending:
    """Say why a run must end (reason as in `TrainingResult`) when a team decides it."""

    reason: str
    message: str


class Team:
    """The processes that train one network together; this base class is one process alone.

    `train` calls these hooks at fixed points of its loop; `engine.parallel` overrides them
    to average weights, pass on settings and combine figures across worker processes.
    """

    workers = 1
    # Divergences the other workers recovered from (the hub counts them as they are reported).
    divergences_elsewhere = 0

    def train_images(self, share: int) -> int:
        """Return how many distinct images the whole team trains on, given this share's size."""
        return share

    def start(self) -> None:
        """Wait until every worker is ready; called just before the clock starts."""

    def start_epoch(self, control: TrainingControl) -> None:
        """Let the other workers begin the epoch this worker begins."""

    def after_batch(
        self, fast: FastNetwork, batch: int, batches_per_epoch: int, control: TrainingControl
    ) -> Ending | None:
        """Combine this batch's work with the other workers when due; say if the run must end."""
        return None

    def end_epoch(self, figures: EpochFigures) -> EpochFigures | Ending:
        """Return this epoch's figures summed over the team, or why the run must end."""
        return figures

    def finish(self, reason: str, message: str) -> None:
        """Tell the other workers how this worker's run ended."""


class TrainingControl:
    """Steer a running `train` call from another thread; every method is thread-safe.

    Stop, pause and resume act after the current batch. The learning rate, momentum and weight
    decay set here replace the run's `TrainConfig` values from the next batch on (a recovered
    divergence lowers the learning rate here too). `step` lets a paused run train a few more
    batches; `extend_epochs` makes a run longer while it runs.
    """

    def __init__(self, learning_rate: float | None = None) -> None:
        self.stop_event = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._settings: dict[str, float] = {}
        if learning_rate is not None:
            self.set_learning_rate(learning_rate)
        self._snapshot_requested = False
        self._steps_left: int | None = None
        self._extra_epochs = 0

    def stop(self) -> None:
        """Ask the run to stop after the current batch (it also leaves a pause)."""
        self.stop_event.set()
        self._running.set()

    def pause(self) -> None:
        """Ask the run to wait after the current batch until `resume`, `step` or `stop`."""
        with self._lock:
            self._steps_left = None
            self._running.clear()

    def resume(self) -> None:
        """Let a paused run continue (and cancel what is left of a `step`)."""
        with self._lock:
            self._steps_left = None
            self._running.set()

    def step(self, batches: int = 1) -> None:
        """Let the run train `batches` more batches and then pause (a `Paused` event follows).

        Meant for a paused run ("one more batch", or `batches_per_epoch` for "+1 epoch"); a
        running run pauses after that many batches. An epoch finished on the way is tested as
        usual; a run that reaches its last batch first simply ends.
        """
        if batches < 1:
            raise ValueError("a step is at least one batch")
        with self._lock:
            self._steps_left = batches
            self._running.set()

    def extend_epochs(self, count: int = 1) -> None:
        """Add `count` epochs to the run (while it runs or is paused; no effect once it ended).

        The learning-rate schedule is stretched over the new length, so a cosine or step
        schedule near its end rises back a little.
        """
        if count < 1:
            raise ValueError("extend by at least one epoch")
        with self._lock:
            self._extra_epochs += count

    def extra_epochs(self) -> int:
        """Return how many epochs `extend_epochs` has added in total."""
        with self._lock:
            return self._extra_epochs

    def batch_done(self) -> None:
        """Count one finished batch against a `step` in progress (called by the loop)."""
        with self._lock:
            if self._steps_left is not None:
                self._steps_left -= 1
                if self._steps_left == 0:
                    self._steps_left = None
                    self._running.clear()

    @property
    def paused(self) -> bool:
        """Return True while a pause is in force."""
        return not self._running.is_set()

    def set_learning_rate(self, learning_rate: float) -> None:
        """Replace the base learning rate from the next batch on (the schedule still applies)."""
        check_learning_rate(learning_rate)
        self._set("learning_rate", learning_rate)

    def learning_rate(self, default: float) -> float:
        """Return the base learning rate set by `set_learning_rate`, or `default`."""
        return self._get("learning_rate", default)

    def set_momentum(self, momentum: float) -> None:
        """Replace the momentum, in [0, 1), from the next batch on."""
        check_momentum(momentum)
        self._set("momentum", momentum)

    def momentum(self, default: float) -> float:
        """Return the momentum set by `set_momentum`, or `default`."""
        return self._get("momentum", default)

    def set_weight_decay(self, weight_decay: float) -> None:
        """Replace the weight decay (per unit of learning rate, in [0, 1)) from the next batch."""
        check_weight_decay(weight_decay)
        self._set("weight_decay", weight_decay)

    def weight_decay(self, default: float) -> float:
        """Return the weight decay set by `set_weight_decay`, or `default`."""
        return self._get("weight_decay", default)

    def _set(self, name: str, value: float) -> None:
        with self._lock:
            self._settings[name] = value

    def _get(self, name: str, default: float) -> float:
        with self._lock:
            return self._settings.get(name, default)

    def request_snapshot(self) -> None:
        """Ask for a `WeightsSnapshot` event after the current batch."""
        with self._lock:
            self._snapshot_requested = True

    def take_snapshot_request(self) -> bool:
        """Return whether a snapshot was requested, clearing the request."""
        with self._lock:
            requested, self._snapshot_requested = self._snapshot_requested, False
            return requested

    def wait_while_paused(self) -> None:
        """Block while paused; return at once when running or stopped."""
        while not self._running.wait(PAUSE_POLL_SECONDS):
            if self.stop_event.is_set():
                return


def scheduled_learning_rate(base: float, schedule: str, progress: float) -> float:
    """Return the learning rate at `progress` (0..1 of the run) for a base rate and schedule.

    "cosine" falls from base to 0 along half a cosine; "step" divides by 10 at 50% and 75%;
    "one-cycle" warms up linearly from a tenth of base over the first 10%, then falls as cosine.
    """
    if schedule == "one-cycle":
        if progress < WARMUP_SHARE:
            return base * (WARMUP_START + (1.0 - WARMUP_START) * progress / WARMUP_SHARE)
        progress = (progress - WARMUP_SHARE) / (1.0 - WARMUP_SHARE)
        schedule = "cosine"
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "step":
        return base * (0.1 ** ((progress >= 0.5) + (progress >= 0.75)))
    return base


def sparse_dataset(dataset: Dataset) -> list[tuple[SparseImage, int]]:
    """Return every (image, label) of a dataset converted for the fast path."""
    return [(sparse_image(pixels), label) for pixels, label in zip(dataset.images, dataset.labels)]


def measure(
    fast: FastNetwork, samples: list[tuple[SparseImage, int]], stop: threading.Event
) -> tuple[float, int] | None:
    """Return (loss sum, right answers) of the fast network on samples, or None if stopped.

    An image whose sums leave their lanes (weights grown huge: the run is diverging) counts
    as read wrong with certainty.
    """
    loss_sum = 0.0
    correct = 0
    for start in range(0, len(samples), EVALUATION_CHUNK):
        if stop.is_set():
            return None
        for image, label in samples[start : start + EVALUATION_CHUNK]:
            try:
                outputs = fast.predict_sparse(image)
            except LaneOverflow:
                outputs = [0.0] * len(fast.layers[-1].biases)
                outputs[label - 1] = 1.0
            loss_sum += loss_value(fast.loss, outputs, label)
            correct += max(outputs) == outputs[label]
    return loss_sum, correct


def train(
    network: Network,
    train_set: Dataset,
    test_set: Dataset | None,
    config: TrainConfig,
    on_event: Callable[[TrainingEvent], None] | None = None,
    control: TrainingControl | None = None,
    statistics_seconds: float | None = None,
    team: Team | None = None,
) -> TrainingResult:
    """Train a copy of `network` on `train_set`; return the trained copy and how the run ended.

    With `statistics_seconds`, a `NetworkStatistics` event follows the first batch that ends
    `statistics_seconds` into training, then one about every `statistics_seconds` (less often
    when measuring costs more than STATISTICS_COST_SHARE of the time between two), and one
    for the network the run returns. Data conversion happens before the clock starts;
    `train_seconds` counts training, the statistics measured during it and the per-epoch test
    evaluation (not the final statistics, measured after the clock stops). With
    `config.workers` above 1 the run is spread over that many processes (`engine.parallel`);
    `team` is how such a worker joins the others.
    """
    if team is None and config.workers > 1:
        # Imported here because engine.parallel builds on this module.
        from engine.parallel import train_in_processes

        return train_in_processes(
            network, train_set, test_set, config, on_event, control, statistics_seconds
        )
    team = team or Team()
    emit = on_event or (lambda event: None)
    control = control or TrainingControl()
    rng = random.Random(config.seed)
    if config.limit is not None:
        train_set = train_set.subset(config.limit)
    if len(train_set) == 0:
        raise ValueError("the training set is empty")
    probe = None
    if statistics_seconds is not None:
        probe = StatisticsProbe.from_dataset(train_set, seed=config.seed)
    next_statistics = statistics_seconds or 0.0
    samples = sparse_dataset(train_set) if not config.augment else []
    test_samples = sparse_dataset(test_set) if test_set is not None else []
    augment_settings = AUGMENT_SETTINGS

    momentum = control.momentum(config.momentum)
    fast = _fast_network_to_train(network, config.seed, lane_bits(momentum))
    checkpoint = fast.snapshot()
    size = len(train_set)
    batches_per_epoch = math.ceil(size / config.batch_size)
    history: list[EpochEnd] = []
    running_loss: float | None = None
    first_loss: float | None = None
    best_loss = math.inf
    window_loss, window_batches = 0.0, 0
    samples_seen = 0
    skipped_samples = epoch_skipped = 0
    batches_done = 0
    batches_since_recovery = 0
    divergences = 0
    in_a_row = 0
    reason, message = "finished", "training finished"
    team.start()
    started = time.perf_counter()

    def elapsed() -> float:
        return time.perf_counter() - started

    epoch = 0
    while True:
        if epoch >= config.epochs + control.extra_epochs():
            # A paused run does not end on its own: it may yet be given more epochs.
            if not control.paused or control.stop_event.is_set():
                break
            hold(control, emit, Paused(epoch=epoch + 1, batch=1, samples_seen=samples_seen))
            continue
        epoch += 1
        team.start_epoch(control)
        order = list(range(size))
        rng.shuffle(order)
        epoch_loss = 0.0
        epoch_correct = 0
        epoch_seen = 0
        epoch_skipped = 0
        for batch_index in range(batches_per_epoch):
            if control.paused and not control.stop_event.is_set():
                hold(control, emit, Paused(epoch, batch_index + 1, samples_seen))
            if control.stop_event.is_set():
                reason, message = "stopped", "training stopped"
                break
            indices = order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size]
            if config.augment:
                batch = [
                    (
                        sparse_image(
                            augment(train_set.images[i], rng, augment_settings, train_set.labels[i])
                        ),
                        train_set.labels[i],
                    )
                    for i in indices
                ]
            else:
                batch = [samples[i] for i in indices]
            epochs = config.epochs + control.extra_epochs()
            base = control.learning_rate(config.learning_rate)
            learning_rate = scheduled_learning_rate(
                base, config.schedule, batches_done / (batches_per_epoch * epochs)
            )
            momentum = control.momentum(config.momentum)
            weight_decay = control.weight_decay(config.weight_decay)
            cause = None
            try:
                loss_sum, correct, skipped = fast.train_batch(
                    batch,
                    learning_rate,
                    momentum,
                    weight_decay,
                    config.skip_confidence,
                )
            except Diverged as error:
                cause = str(error).removeprefix("training diverged: ")
            else:
                batch_loss = loss_sum / len(batch)
                if running_loss is None:
                    running_loss = batch_loss
                    first_loss = batch_loss if first_loss is None else first_loss
                else:
                    running_loss = LOSS_SMOOTHING * running_loss + (1 - LOSS_SMOOTHING) * batch_loss
                batches_done += 1
                batches_since_recovery += 1
                samples_seen += len(batch) * team.workers  # the others train as many
                epoch_loss += loss_sum
                epoch_correct += correct
                epoch_seen += len(batch)
                epoch_skipped += skipped
                if batches_since_recovery > DIVERGENCE_WARMUP_BATCHES and (
                    running_loss > DIVERGENCE_FACTOR * max(first_loss, 0.1)
                ):
                    cause = f"the running loss rose to {running_loss:.3g} from {first_loss:.3g}"
            if cause is not None:
                divergences += 1
                in_a_row += 1
                if config.on_divergence == "stop" or in_a_row >= MAX_DIVERGENCES_IN_A_ROW:
                    reason = "diverged"
                    message = diverged_message(cause, base, in_a_row)
                    break
                lowered = base * RECOVERY_RATE_FACTOR
                control.set_learning_rate(lowered)
                # The failed step may have left the parameters half updated: start afresh
                # from the checkpoint, with the momentum cleared.
                recovered = FastNetwork(
                    checkpoint.to_network(),
                    seed=config.seed + divergences,
                    first_lane_bits=lane_bits(momentum),
                )
                # Other workers still hold the team's last meeting point: count from there.
                recovered.continue_meetings_of(fast)
                fast = recovered
                running_loss = None
                batches_since_recovery = 0
                window_loss, window_batches = 0.0, 0
                emit(
                    DivergenceRecovered(
                        epoch=epoch,
                        batch=batch_index + 1,
                        samples_seen=samples_seen,
                        cause=cause,
                        previous_learning_rate=base,
                        learning_rate=lowered,
                        divergences=divergences,
                        in_a_row=in_a_row,
                        message=recovered_message(cause, base, lowered),
                    )
                )
                ending = team.after_batch(fast, batch_index + 1, batches_per_epoch, control)
                if ending is not None:
                    reason, message = ending.reason, ending.message
                    break
                continue
            window_loss += batch_loss
            window_batches += 1
            if window_batches == CHECKPOINT_EVERY_BATCHES:
                # Good weights have a recent mean loss below the run's start and its best so far;
                # a running average would lag behind a network that has just been wrecked.
                recent = window_loss / window_batches
                if recent <= best_loss and recent < first_loss:
                    best_loss = recent
                    checkpoint = fast.snapshot()
                    in_a_row = 0
                window_loss, window_batches = 0.0, 0
            now = elapsed()
            emit(
                BatchEnd(
                    epoch=epoch,
                    batch=batch_index + 1,
                    batches_per_epoch=batches_per_epoch,
                    samples_seen=samples_seen,
                    total_samples=size * epochs * team.workers,
                    loss=batch_loss,
                    running_loss=running_loss,
                    learning_rate=learning_rate,
                    samples_per_second=samples_seen / now if now > 0 else 0.0,
                    elapsed_seconds=now,
                    momentum=momentum,
                    weight_decay=weight_decay,
                    skipped=skipped,
                )
            )
            control.batch_done()
            if control.take_snapshot_request():
                weights = [fast.weights(index) for index in range(len(fast.layers))]
                emit(WeightsSnapshot(weights=weights, samples_seen=samples_seen))
            if probe is not None and statistics_seconds is not None and now >= next_statistics:
                cost = measure_statistics(probe, fast.to_network, emit, epoch, samples_seen)
                next_statistics = elapsed() + max(statistics_seconds, cost / STATISTICS_COST_SHARE)
            ending = team.after_batch(fast, batch_index + 1, batches_per_epoch, control)
            if ending is not None:
                reason, message = ending.reason, ending.message
                break
        if reason != "finished":
            break
        measured = measure(fast, test_samples, control.stop_event) if test_samples else (0.0, 0)
        if measured is None:
            reason, message = "stopped", "training stopped"
            break
        figures = team.end_epoch(
            EpochFigures(
                epoch_loss, epoch_correct, epoch_seen, *measured, len(test_samples), epoch_skipped
            )
        )
        if isinstance(figures, Ending):
            reason, message = figures.reason, figures.message
            break
        now = elapsed()
        tested = figures.test_count > 0
        end = EpochEnd(
            epoch=epoch,
            epochs=config.epochs + control.extra_epochs(),
            train_loss=figures.train_loss_sum / max(1, figures.train_seen),
            train_accuracy=figures.train_correct / max(1, figures.train_seen),
            test_loss=figures.test_loss_sum / figures.test_count if tested else None,
            test_accuracy=figures.test_correct / figures.test_count if tested else None,
            samples_per_second=samples_seen / now if now > 0 else 0.0,
            elapsed_seconds=now,
            skipped_samples=figures.skipped,
        )
        # The whole team's skips; a stopped epoch adds this worker's own below.
        skipped_samples += figures.skipped
        epoch_skipped = 0
        history.append(end)
        emit(end)

    divergences += team.divergences_elsewhere
    if reason == "finished" and divergences:
        message = (
            f"training finished after recovering from {divergences} divergence"
            f"{'s' if divergences > 1 else ''} (learning rate lowered to"
            f" {control.learning_rate(config.learning_rate):g})"
        )
    team.finish(reason, message)
    trained = (checkpoint if reason == "diverged" else fast).to_network()
    train_seconds = elapsed()
    if probe is not None:
        # After the clock stops: training is over, and a short run's speed would count it.
        measure_statistics(probe, lambda: trained, emit, epoch, samples_seen)
    test_accuracy = history[-1].test_accuracy if history else None
    trained.metadata.update(
        {
            "epochs": len(history),
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            # Momentum and weight decay as in force at the end (they can be changed live).
            "momentum": control.momentum(config.momentum),
            "weight_decay": control.weight_decay(config.weight_decay),
            "schedule": config.schedule,
            "skip_confidence": config.skip_confidence,
            "augment": config.augment,
            "seed": config.seed,
            "train_images": team.train_images(size),
            "train_seconds": round(train_seconds, 3),
            "divergences": divergences,
            "final_learning_rate": control.learning_rate(config.learning_rate),
        }
    )
    if test_accuracy is not None:
        trained.metadata["test_accuracy"] = test_accuracy
    return TrainingResult(
        network=trained,
        reason=reason,
        message=message,
        train_seconds=train_seconds,
        samples_per_second=samples_seen / train_seconds if train_seconds > 0 else 0.0,
        epochs_completed=len(history),
        test_accuracy=test_accuracy,
        history=history,
        divergences=divergences,
        final_learning_rate=trained.metadata["final_learning_rate"],
        first_loss=first_loss,
        skipped_samples=skipped_samples + epoch_skipped,
    )


def lane_bits(momentum: float) -> int:
    """Return the first layer's lane width for a momentum: 32 bits give velocities headroom."""
    return WIDE_LANE_BITS if momentum else NARROW_LANE_BITS


def measure_statistics(
    probe: StatisticsProbe,
    network: Callable[[], Network],
    emit: Callable[[TrainingEvent], None],
    epoch: int,
    samples_seen: int,
) -> float:
    """Emit the `NetworkStatistics` of network() measured on the probe; return the seconds spent.

    `network` is called inside the timing, so converting the weights counts in the cost.
    """
    started = time.perf_counter()
    layers = probe.measure(network())
    cost = time.perf_counter() - started
    emit(NetworkStatistics(layers, epoch, samples_seen, len(probe.inputs), cost))
    return cost


def hold(control: TrainingControl, emit: Callable[[TrainingEvent], None], paused: Paused) -> None:
    """Report a pause, then block until the run is resumed, stepped or stopped."""
    emit(paused)
    control.wait_while_paused()


def _fast_network_to_train(network: Network, seed: int, first_lane_bits: int) -> FastNetwork:
    """Return the fast form of `network`; raise ValueError if its weights overflow the lanes.

    Training makes no such weights, but a model file may hold them (see engine.inference).
    """
    try:
        fast = FastNetwork(network, seed=seed, first_lane_bits=first_lane_bits)
        if fast.fits_every_image():
            return fast
    except LaneOverflow:
        pass
    raise ValueError(
        "this model's first-layer weights are too large for training to continue from it"
        " (it can still read digits and be evaluated)"
    )


def diverged_message(cause: str, learning_rate: float, in_a_row: int = 1) -> str:
    """Return the message shown when a run ends diverged: the cause and what to try instead."""
    times = f" {in_a_row} times in a row" if in_a_row > 1 else ""
    return (
        f"Training diverged{times} ({cause}) at learning rate {learning_rate:g}. "
        "The last good weights were kept; try a smaller learning rate."
    )


def recovered_message(cause: str, learning_rate: float, lowered: float) -> str:
    """Return the sentence reporting a recovered divergence: cause, old and new learning rate."""
    return (
        f"Training diverged ({cause}) at learning rate {learning_rate:g}: went back to the last"
        f" good weights and lowered the learning rate to {lowered:g}."
    )
