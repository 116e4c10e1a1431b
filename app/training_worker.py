"""The Train tab's background work: what a run and a download do, and what they report.

Nothing here imports Tk. A run (`run_training`) executes in the training process
(`app.training_process`), a download (`DownloadWorker`) on a daemon thread; both report only
by posting small frozen dataclasses (the messages below, all picklable) that the tab polls
with `after()`; no worker ever touches a widget. Steering goes the other way through the
engine's `TrainingControl` (stop, pause, step, epochs, learning rate, momentum, weight decay)
and `threading.Event`s.

The engine reports every mini-batch, far more often than a screen needs, so `EventRelay` sends
a `Progress` at most every PROGRESS_INTERVAL_SECONDS carrying the loss points since the last
one, averaged in groups so that a whole run has at most MAX_LOSS_POINTS of them. Weight
snapshots cost training time (reading the packed weights back, then drawing the heatmaps), so
they are asked for at most every SNAPSHOT_INTERVAL_SECONDS and less often when one costs more
than SNAPSHOT_COST_SHARE of the time between two. The network's statistics (for the charts,
about every STATISTICS_SECONDS), pauses and recovered divergences are passed on as they come.

The plain functions at the end turn the tab's form into engine objects and progress into text.
"""

from __future__ import annotations

import math
import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from app.heatmap import HeatmapGeometry, Heatmaps, render_heatmaps
from engine.bench import CLASSIC_ARCHITECTURE, DEFAULT_ARCHITECTURE
from engine.download import DownloadCancelled, download_mnist
from engine.evaluate import Evaluation, EvaluationStopped, evaluate
from engine.layerstats import LayerStatistics
from engine.mnist import MNIST_FILES, DataError, Dataset, find_mnist_file, load_mnist
from engine.mydigits import DigitStore, Sample
from engine.network import (
    INPUT_SIZE,
    OUTPUT_SIZE,
    Network,
    format_architecture,
    parse_architecture,
)
from engine.train import (
    BatchEnd,
    DivergenceRecovered,
    EpochEnd,
    NetworkStatistics,
    Paused,
    TrainConfig,
    TrainingControl,
    TrainingEvent,
    TrainingResult,
    WeightsSnapshot,
    train,
)

PROGRESS_INTERVAL_SECONDS = 0.1
DOWNLOAD_PROGRESS_INTERVAL_SECONDS = 0.1
MAX_LOSS_POINTS = 600
SNAPSHOT_INTERVAL_SECONDS = 1.0
SNAPSHOT_COST_SHARE = 0.03
# How often the engine measures the network's statistics for the charts (it measures less often
# when that costs more than engine.train.STATISTICS_COST_SHARE of the training time).
STATISTICS_SECONDS = 1.0
# The share of a run's training images that my digits make up when they are added to it.
MY_DIGITS_SHARE = 0.05
LEARNING_RATE_MIN = 0.001
LEARNING_RATE_MAX = 10.0
LEARNING_RATE_DIGITS = 2
LEARNING_RATE_MANTISSAS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
DEFAULT_LEARNING_RATE = TrainConfig().learning_rate
# Sigmoid units pass on small gradients, so the classic preset takes a larger step: with the
# default plain-SGD recipe 784-16-16-10 reaches 93.5% after one epoch at 2.0 (91.0% at 0.5).
CLASSIC_LEARNING_RATE = 2.0
TRAINING_SIZES = (1_000, 5_000, 10_000, 30_000, 60_000)
BATCH_SIZES = (1, 8, 16, 32, 64, 128, 256)
SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60


# ----- messages from the workers -------------------------------------------------------------


@dataclass(frozen=True)
class Loading:
    """Say that the worker is reading the MNIST files of `folder`."""

    folder: Path


@dataclass(frozen=True)
class Started:
    """Say that training began: what is trained, on how many images, for how long, on how many
    cores (worker processes; `batches_per_epoch` counts one worker's batches)."""

    architecture: str
    activation: str
    train_images: int
    test_images: int
    epochs: int
    batches_per_epoch: int
    cores: int = 1
    # Of train_images, how many are my digits' drawings (each drawing repeated; see
    # `with_my_digits`), and how many drawings that is.
    my_digit_images: int = 0
    my_drawings: int = 0


@dataclass(frozen=True)
class LossPoint:
    """One point of the loss curve: where in the run (in epochs, 0..epochs) and the mean loss."""

    epoch_position: float
    loss: float


@dataclass(frozen=True)
class Progress:
    """Carry the latest finished batch and the loss points completed since the last Progress."""

    batch: BatchEnd
    points: tuple[LossPoint, ...]


@dataclass(frozen=True)
class EpochDone:
    """Carry the figures of one finished epoch."""

    end: EpochEnd


@dataclass(frozen=True)
class WeightsUpdate:
    """Carry every layer's weights as heatmaps, and what making them cost the training thread.

    `interval_seconds` is how long until the next snapshot (0 when none is planned).
    """

    heatmaps: Heatmaps
    samples_seen: int
    cost_seconds: float = 0.0
    interval_seconds: float = 0.0


@dataclass(frozen=True)
class Statistics:
    """Carry every weight layer's statistics (input side first, see `engine.layerstats`),
    measured during epoch `epoch` after `samples_seen` samples."""

    layers: tuple[LayerStatistics, ...]
    epoch: int
    samples_seen: int


@dataclass(frozen=True)
class RunPaused:
    """Say that the run now waits before batch `batch` (1-based) of epoch `epoch`, after
    `samples_seen` samples: a pause took effect or a step finished (see `engine.train.Paused`)."""

    epoch: int
    batch: int
    samples_seen: int


@dataclass(frozen=True)
class Recovered:
    """Carry a divergence the run recovered from: the base learning rate is now lower."""

    event: DivergenceRecovered


@dataclass(frozen=True)
class Evaluating:
    """Say that the trained network is being tested on `images` test images."""

    images: int


@dataclass(frozen=True)
class Finished:
    """Carry how the run ended, its test evaluation and the test images it was made on.

    `snapshot_seconds` is the training-thread time spent on weight heatmaps during the run.
    """

    result: TrainingResult
    evaluation: Evaluation
    test_set: Dataset
    snapshot_seconds: float


@dataclass(frozen=True)
class Failed:
    """Report an unexpected exception in a worker (task "training", "testing" or "download").

    `summary` is one line to show, `details` the full traceback. When testing failed after
    training succeeded, `network` holds the trained network so that it can still be saved.
    """

    task: str
    summary: str
    details: str
    network: Network | None = None


@dataclass(frozen=True)
class DataProgress:
    """Report download progress of one file; total is None when the server does not say."""

    file: str
    done: int
    total: int | None


@dataclass(frozen=True)
class DataFailed:
    """Say why training could not read the MNIST files of `folder`."""

    folder: Path
    message: str


@dataclass(frozen=True)
class DownloadDone:
    """Say how a download into `folder` ended: problem is None when every file is verified."""

    folder: Path
    problem: str | None = None
    cancelled: bool = False


Message = (
    Loading
    | Started
    | Progress
    | EpochDone
    | WeightsUpdate
    | Statistics
    | RunPaused
    | Recovered
    | Evaluating
    | Finished
    | Failed
    | DataFailed
    | DataProgress
    | DownloadDone
)
Post = Callable[[Message], None]


class MessageSource(Protocol):
    """Where messages wait: a queue, or a run in the training process."""

    def get_nowait(self) -> Message:
        """Return the next message; raise queue.Empty if none is waiting."""


def take_messages(messages: MessageSource, limit: int) -> list[Message]:
    """Return up to `limit` waiting messages, merging floods the screen only needs once.

    Consecutive Progress messages become one (the latest batch, every loss point) and only the
    newest WeightsUpdate is kept; every other message is returned in order.
    """
    taken: list[Message] = []
    for _ in range(limit):
        try:
            taken.append(messages.get_nowait())
        except queue.Empty:
            break
    newest_weights = max(
        (index for index, message in enumerate(taken) if isinstance(message, WeightsUpdate)),
        default=None,
    )
    merged: list[Message] = []
    for index, message in enumerate(taken):
        if isinstance(message, WeightsUpdate) and index != newest_weights:
            continue
        if isinstance(message, Progress) and merged and isinstance(merged[-1], Progress):
            merged[-1] = Progress(message.batch, merged[-1].points + message.points)
        else:
            merged.append(message)
    return merged


# ----- turning engine events into messages ---------------------------------------------------


class LossPoints:
    """Average per-batch losses in groups so that one run yields at most MAX_LOSS_POINTS points."""

    def __init__(self, total_batches: int) -> None:
        self.group = max(1, math.ceil(total_batches / MAX_LOSS_POINTS))
        self._losses: list[float] = []
        self._ready: list[LossPoint] = []

    def add(self, batch: BatchEnd) -> None:
        """Count one batch's loss; close the group when it is full or the epoch ends."""
        self._losses.append(batch.loss)
        if len(self._losses) == self.group or batch.batch == batch.batches_per_epoch:
            position = batch.epoch - 1 + batch.batch / batch.batches_per_epoch
            self._ready.append(LossPoint(position, math.fsum(self._losses) / len(self._losses)))
            self._losses.clear()

    def take(self) -> tuple[LossPoint, ...]:
        """Return the points completed since the last call."""
        points, self._ready = tuple(self._ready), []
        return points


def weights_update(
    weights: Sequence[list[list[float]]], samples_seen: int, geometry: HeatmapGeometry
) -> WeightsUpdate:
    """Return the heatmaps of every layer's weights as a message."""
    return WeightsUpdate(render_heatmaps(weights, geometry), samples_seen)


class EventRelay:
    """Turn the engine's training events into throttled messages (runs on the worker thread).

    `geometry` says where heatmaps are shown now (asked at each snapshot: the window may have
    been resized).
    """

    def __init__(
        self,
        post: Post,
        control: TrainingControl,
        total_batches: int,
        geometry: Callable[[], HeatmapGeometry],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.post = post
        self.control = control
        self.geometry = geometry
        self.clock = clock
        self.loss_points = LossPoints(total_batches)
        self.snapshot_seconds = 0.0
        self.samples_seen = 0
        self._latest: BatchEnd | None = None
        self._last_post = clock()
        self._next_snapshot: float | None = None  # set by the first batch
        self._requested_at: float | None = None

    def __call__(self, event: TrainingEvent) -> None:
        """Handle one engine event."""
        if isinstance(event, BatchEnd):
            self._on_batch(event)
        elif isinstance(event, EpochEnd):
            self.flush()
            self.post(EpochDone(event))
        elif isinstance(event, WeightsSnapshot):
            self._on_snapshot(event)
        elif isinstance(event, NetworkStatistics):
            self.post(Statistics(event.layers, event.epoch, event.samples_seen))
        elif isinstance(event, Paused):
            self.flush()
            self.post(RunPaused(event.epoch, event.batch, event.samples_seen))
        elif isinstance(event, DivergenceRecovered):
            self.flush()
            self.post(Recovered(event))

    def flush(self) -> None:
        """Post the latest batch and the loss points not sent yet, if there are any."""
        if self._latest is not None:
            self.post(Progress(self._latest, self.loss_points.take()))
            self._latest = None
        self._last_post = self.clock()

    def _on_batch(self, batch: BatchEnd) -> None:
        """Record a batch; post progress when due; ask for a weight snapshot when due."""
        self.loss_points.add(batch)
        self._latest = batch
        self.samples_seen = batch.samples_seen
        now = self.clock()
        if now - self._last_post >= PROGRESS_INTERVAL_SECONDS:
            self.flush()
        if self._next_snapshot is None:
            self._next_snapshot = now + SNAPSHOT_INTERVAL_SECONDS
        if self._requested_at is None and now >= self._next_snapshot:
            # The engine takes the snapshot right after this callback returns.
            self.control.request_snapshot()
            self._requested_at = now

    def _on_snapshot(self, snapshot: WeightsSnapshot) -> None:
        """Post the snapshot as heatmaps; schedule the next so snapshots stay cheap overall."""
        update = weights_update(snapshot.weights, snapshot.samples_seen, self.geometry())
        now = self.clock()
        cost = now - (self._requested_at if self._requested_at is not None else now)
        self._requested_at = None
        self.snapshot_seconds += cost
        interval = max(SNAPSHOT_INTERVAL_SECONDS, cost / SNAPSHOT_COST_SHARE)
        self._next_snapshot = now + interval
        self.post(replace(update, cost_seconds=cost, interval_seconds=interval))


# ----- the work: a run (in the training process) and a download (on a thread) --------------------


class MnistCache:
    """Load MNIST's train and test splits of a folder once; later runs reuse them (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: tuple[Path, Dataset, Dataset] | None = None

    def load(self, folder: Path) -> tuple[Dataset, Dataset]:
        """Return the (train, test) datasets of folder; raise DataError if they cannot be read."""
        with self._lock:
            if self._loaded is None or self._loaded[0] != folder:
                self._loaded = (folder, load_mnist(folder, "train"), load_mnist(folder, "test"))
            return self._loaded[1], self._loaded[2]


class BackgroundThread:
    """Run `work` on a daemon thread; an exception it raises becomes a Failed message."""

    def __init__(self, messages: queue.SimpleQueue, task: str) -> None:
        self.messages = messages
        self.task = task
        self._thread = threading.Thread(target=self._run, name=f"digits-{task}", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait up to timeout seconds for the thread to end; return True if it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """Return True while the thread runs."""
        return self._thread.is_alive()

    def post(self, message: Message) -> None:
        """Put a message on the queue the tab reads."""
        self.messages.put(message)

    def work(self) -> None:
        """Do the thread's job (subclasses say what)."""
        raise NotImplementedError

    def _run(self) -> None:
        """Do the work; report any exception instead of letting it vanish with the thread."""
        try:
            self.work()
        except Exception as error:
            summary = f"{type(error).__name__}: {error}"
            self.post(Failed(self.task, summary, traceback.format_exc()))


@dataclass(frozen=True)
class TrainingJob:
    """What one run needs (sent to the training process, so all of it pickles): the starting
    network, the settings, the MNIST folder and where the heatmaps are shown."""

    network: Network
    config: TrainConfig
    folder: Path
    geometry: HeatmapGeometry
    my_digits: Path | None = None  # a My digits folder whose drawings join the training images


def run_training(
    job: TrainingJob,
    cache: MnistCache,
    post: Post,
    control: TrainingControl,
    abandoned: threading.Event,
    geometry: Callable[[], HeatmapGeometry] | None = None,
) -> None:
    """Load the data, train, then evaluate the trained network on the test set, posting messages.

    Unless abandoned, a run ends with exactly one of Finished, DataFailed or Failed (an
    unexpected exception, with its traceback). `control` steers the run: its `stop()` ends
    training early but the network is still evaluated; setting `abandoned` (and stopping)
    ends everything as soon as possible, with no more messages. `geometry` returns where
    heatmaps are shown now (by default always the job's).
    """
    try:
        _train_and_test(job, cache, post, control, abandoned, geometry or (lambda: job.geometry))
    except Exception as error:
        post(Failed("training", f"{type(error).__name__}: {error}", traceback.format_exc()))


def _train_and_test(
    job: TrainingJob,
    cache: MnistCache,
    post: Post,
    control: TrainingControl,
    abandoned: threading.Event,
    geometry: Callable[[], HeatmapGeometry],
) -> None:
    """Do what `run_training` says, letting unexpected exceptions through."""
    post(Loading(job.folder))
    try:
        train_set, test_set = cache.load(job.folder)
    except DataError as error:
        post(DataFailed(job.folder, str(error)))
        return
    if abandoned.is_set():
        return
    if len(test_set) == 0:
        # Found now, not after the run: testing needs images, and a run is long.
        post(DataFailed(job.folder, f"The MNIST test set in {job.folder} has no images."))
        return
    drawings: list[Sample] = []
    my_digit_images = 0
    if job.my_digits is not None:
        # The limit picks the MNIST images; the drawings come on top of them.
        drawings = DigitStore(job.my_digits).load().samples
        mnist_images = train_set.subset(job.config.limit or len(train_set))
        train_set = with_my_digits(mnist_images, drawings)
        my_digit_images = len(train_set) - len(mnist_images)
        job = replace(job, config=replace(job.config, limit=None))
    train_images = min(len(train_set), job.config.limit or len(train_set))
    # Each worker trains its share of the images; the shares are batched separately.
    share = math.ceil(train_images / job.config.workers)
    batches_per_epoch = math.ceil(share / job.config.batch_size)
    post(
        Started(
            architecture=job.network.architecture,
            activation=job.network.activation,
            train_images=train_images,
            test_images=len(test_set),
            epochs=job.config.epochs,
            batches_per_epoch=batches_per_epoch,
            cores=job.config.workers,
            my_digit_images=my_digit_images,
            my_drawings=len(drawings),
        )
    )
    post(weights_update(job.network.weights, 0, geometry()))
    total_batches = batches_per_epoch * job.config.epochs
    relay = EventRelay(post, control, total_batches, geometry)
    result = train(job.network, train_set, test_set, job.config, relay, control, STATISTICS_SECONDS)
    relay.flush()
    if abandoned.is_set():
        return
    post(weights_update(result.network.weights, relay.samples_seen, geometry()))
    post(Evaluating(len(test_set)))
    try:
        evaluation = evaluate(result.network, test_set, stop=abandoned)
    except EvaluationStopped:
        return
    except Exception as error:
        # Training worked: keep its weights so that they can still be saved.
        summary = f"{type(error).__name__}: {error}"
        post(Failed("testing", summary, traceback.format_exc(), result.network))
        return
    post(Finished(result, evaluation, test_set, relay.snapshot_seconds))


class DownloadWorker(BackgroundThread):
    """Download and verify the MNIST files into a folder on a daemon thread; `cancel` stops it."""

    def __init__(
        self,
        folder: Path,
        messages: queue.SimpleQueue,
        download: Callable[..., object] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(messages, "download")
        self.folder = folder
        self.download = download or download_mnist
        self.clock = clock
        self.cancel = threading.Event()
        self._last_report = -math.inf

    def work(self) -> None:
        """Download; report progress, then DownloadDone (or Failed for an unexpected error)."""
        try:
            self.download(self.folder, progress=self._on_progress, cancel=self.cancel)
        except DownloadCancelled:
            self.post(DownloadDone(self.folder, "The download was cancelled.", cancelled=True))
        except DataError as error:
            self.post(DownloadDone(self.folder, str(error)))
        else:
            self.post(DownloadDone(self.folder))

    def _on_progress(self, file: str, done: int, total: int | None) -> None:
        """Post progress at most every DOWNLOAD_PROGRESS_INTERVAL_SECONDS, and each file's end."""
        now = self.clock()
        finished = total is not None and done >= total
        if finished or now - self._last_report >= DOWNLOAD_PROGRESS_INTERVAL_SECONDS:
            self._last_report = now
            self.post(DataProgress(file, done, total))


# ----- the form: architecture, settings, data --------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """The network shape chosen in the form: hidden sizes ("16-16"), activation and loss."""

    hidden: str
    activation: str
    loss: str

    def layer_sizes(self) -> list[int]:
        """Return all layer sizes, 784 first and 10 last; raise ValueError for a bad entry."""
        text = self.hidden.replace(",", "-").replace(" ", "-")
        parts = [part for part in text.split("-") if part]
        return parse_architecture("-".join([str(INPUT_SIZE), *parts, str(OUTPUT_SIZE)]))


@dataclass(frozen=True)
class Preset:
    """A ready-made choice in the form: an architecture and a learning rate that suits it."""

    architecture: Architecture
    learning_rate: float


def architecture_presets() -> dict[str, Preset]:
    """Return the presets by the name shown in the form, the default first."""
    presets = {}
    for name, (sizes, activation, loss), learning_rate in (
        ("Default", DEFAULT_ARCHITECTURE, DEFAULT_LEARNING_RATE),
        ("Classic", CLASSIC_ARCHITECTURE, CLASSIC_LEARNING_RATE),
    ):
        hidden = "-".join(str(size) for size in sizes[1:-1])
        label = f"{name}: {format_architecture(sizes)}, {activation}"
        presets[label] = Preset(Architecture(hidden, activation, loss), learning_rate)
    return presets


@dataclass(frozen=True)
class TrainSettings:
    """Everything the Train tab's form holds when Train is pressed (`cores`: worker processes)."""

    architecture: Architecture
    continue_loaded: bool
    learning_rate: float
    batch_size: int
    epochs: int
    train_images: int
    augment: bool
    schedule: str
    seed: int = 0
    cores: int = 1
    momentum: float = 0.0
    weight_decay: float = 0.0
    add_my_digits: bool = False

    def config(self) -> TrainConfig:
        """Return the engine's settings for this run; raise ValueError for a bad value."""
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            schedule=self.schedule,
            augment=self.augment,
            seed=self.seed,
            limit=self.train_images,
            workers=self.cores,
        )

    def network(self, loaded: Network | None) -> Network:
        """Return the network to train: the loaded one, or a new one of the chosen shape."""
        if self.continue_loaded:
            if loaded is None:
                raise ValueError("there is no loaded model to continue; choose a new network")
            return loaded
        shape = self.architecture
        return Network.create(shape.layer_sizes(), shape.activation, shape.loss, seed=self.seed)


def describe_size(size: int) -> str:
    """Return how a training-set size is shown in the form ("5,000", "60,000 (all)")."""
    return f"{size:,} (all)" if size == TRAINING_SIZES[-1] else f"{size:,}"


def stored_drawings(folder: Path | None) -> int:
    """Return how many drawing files a My digits folder holds (0 for none or an unreadable one)."""
    if folder is None:
        return 0
    try:
        return sum(DigitStore(folder).counts())
    except OSError:
        return 0


def mnist_present(folder: Path) -> bool:
    """Return True when all four MNIST files are in folder (their content is checked on load)."""
    return all(find_mnist_file(folder, name) is not None for name in MNIST_FILES)


def learning_rate_at(position: float) -> float:
    """Return the learning rate of a slider position (log10 of the rate), snapped to a round one.

    Round rates are LEARNING_RATE_MANTISSAS × a power of ten; the nearest on the log scale wins.
    """
    power = math.floor(position)
    candidates = [
        mantissa * 10.0**exponent
        for exponent in (power, power + 1)
        for mantissa in LEARNING_RATE_MANTISSAS
    ]
    nearest = min(candidates, key=lambda rate: abs(math.log10(rate) - position))
    return float(f"{nearest:.{LEARNING_RATE_DIGITS}g}")


def slider_position(learning_rate: float) -> float:
    """Return the slider position (log10) of a learning rate, within the slider's range."""
    clamped = min(LEARNING_RATE_MAX, max(LEARNING_RATE_MIN, learning_rate))
    return math.log10(clamped)


def format_duration(seconds: float) -> str:
    """Return a duration as "m:ss", or "h:mm:ss" from one hour on."""
    minutes, secs = divmod(max(0, round(seconds)), SECONDS_PER_MINUTE)
    hours, minutes = divmod(minutes, MINUTES_PER_HOUR)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def remaining_seconds(batch: BatchEnd) -> float | None:
    """Return the training time left at the run's average speed so far, or None at the start."""
    if batch.samples_seen == 0 or batch.elapsed_seconds <= 0:
        return None
    left = batch.total_samples - batch.samples_seen
    return batch.elapsed_seconds * left / batch.samples_seen


@dataclass(frozen=True)
class Outcome:
    """How the tab words the end of a run: a headline, the line under it and a status line."""

    headline: str
    details: str
    status: str


def describe_outcome(result: TrainingResult, accuracy: float, epochs: int) -> Outcome:
    """Return the words for how a run ended, with the test accuracy of the network it kept."""
    figures = (
        f"{result.epochs_completed} of {epochs} epochs ·"
        f" {format_duration(result.train_seconds)} of training ·"
        f" {result.samples_per_second:,.0f} samples/s"
    )
    if result.reason == "diverged":
        headline = f"Diverged: the last good weights were kept (test accuracy {accuracy:.1%})"
        return Outcome(
            headline, result.message, "Training diverged; the last good weights were kept."
        )
    headline = f"{result.reason.capitalize()}: test accuracy {accuracy:.1%}"
    return Outcome(headline, figures, headline)


def progress_text(batch: BatchEnd, epochs: int) -> str:
    """Return the progress line under the bar: epoch, batch, speed, time left, learning rate."""
    left = remaining_seconds(batch)
    remaining = "–" if left is None else format_duration(left)
    return (
        f"Epoch {batch.epoch}/{epochs} · batch {batch.batch:,}/{batch.batches_per_epoch:,}"
        f" · {batch.samples_per_second:,.0f} samples/s · {remaining} left"
        f" · learning rate {batch.learning_rate:.3g}"
    )


def with_my_digits(train_set: Dataset, drawings: Sequence[Sample]) -> Dataset:
    """Return train_set followed by my digits' 28×28 inputs, each repeated so that together
    they make about MY_DIGITS_SHARE of the result (each drawing at least once).

    A few dozen drawings among thousands of MNIST digits would hardly move the network;
    repeated, they count like a writer MNIST has many digits of (the fine-tune's idea, at a
    smaller share because the run also learns MNIST from scratch).
    """
    if not drawings:
        return train_set
    repeats = max(1, round(MY_DIGITS_SHARE * len(train_set) / len(drawings)))
    images = list(train_set.images) + [sample.pixels for sample in drawings] * repeats
    labels = list(train_set.labels) + [sample.label for sample in drawings] * repeats
    return Dataset(images, labels)
