"""Tests of the Train tab's Tk-free background work: messages, throttling, workers, form maths.

The workers run for real on small synthetic MNIST folders: digits drawn with Pillow's font at
random offsets and stroke widths, written as gzip IDX files (`write_digit_folder`, which the
GUI tests use too).
"""

from __future__ import annotations

import gzip
import math
import queue
import random
import struct
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from app import training_worker
from app.heatmap import HeatmapGeometry
from app.training_worker import (
    MAX_LOSS_POINTS,
    PROGRESS_INTERVAL_SECONDS,
    SNAPSHOT_COST_SHARE,
    SNAPSHOT_INTERVAL_SECONDS,
    Architecture,
    DataFailed,
    DataProgress,
    DownloadDone,
    DownloadWorker,
    EpochDone,
    Evaluating,
    EventRelay,
    Failed,
    Finished,
    Loading,
    LossPoint,
    LossPoints,
    MnistCache,
    Progress,
    Recovered,
    RunPaused,
    Started,
    Statistics,
    TrainingJob,
    TrainSettings,
    WeightsUpdate,
    architecture_presets,
    describe_outcome,
    describe_size,
    format_duration,
    learning_rate_at,
    mnist_present,
    progress_text,
    remaining_seconds,
    run_training,
    slider_position,
    take_messages,
)
from engine.download import DownloadCancelled, DownloadError
from engine.layerstats import LayerStatistics
from engine.mnist import Dataset
from engine.mydigits import DigitStore, Sample, StoredDrawing
from engine.network import Network
from engine.preprocess import preprocess_image
from engine.train import (
    BatchEnd,
    DivergenceRecovered,
    NetworkStatistics,
    Paused,
    TrainConfig,
    TrainingControl,
    TrainingResult,
    WeightsSnapshot,
)

DIGIT_FONT_PX = 20
WORKER_TIMEOUT_SECONDS = 30.0
SMALL_NETWORK = [784, 16, 10]
GEOMETRY = HeatmapGeometry((300, 100), 2, (200, 200, 200), (100, 40))


# ----- synthetic data ---------------------------------------------------------------------------


def digit_image(digit: int, rng: random.Random) -> bytes:
    """Return a 28×28 image (ink high) of a digit drawn in Pillow's font, shifted at random."""
    image = Image.new("L", (28, 28), 0)
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(DIGIT_FONT_PX)
    centre = (14 + rng.randint(-2, 2), 14 + rng.randint(-2, 2))
    stroke = rng.randint(0, 1)
    ink = rng.randint(180, 255)
    pen.text(
        centre, str(digit), fill=ink, font=font, anchor="mm", stroke_width=stroke, stroke_fill=ink
    )
    return image.tobytes()


def digit_dataset(count: int, seed: int) -> Dataset:
    """Return count drawn digits, labels cycling through 0..9."""
    rng = random.Random(seed)
    labels = [index % 10 for index in range(count)]
    return Dataset([digit_image(label, rng) for label in labels], labels)


def write_split(folder: Path, prefix: str, dataset: Dataset) -> None:
    """Write a dataset as the two gzip IDX files of an MNIST split ("train" or "t10k")."""
    count = len(dataset)
    images = struct.pack(">IIII", 0x803, count, 28, 28) + b"".join(dataset.images)
    labels = struct.pack(">II", 0x801, count) + bytes(dataset.labels)
    (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images, 1))
    (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels, 1))


def write_digit_folder(folder: Path, train_images: int, test_images: int) -> Path:
    """Write a synthetic MNIST folder of drawn digits and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_split(folder, "train", digit_dataset(train_images, seed=1))
    write_split(folder, "t10k", digit_dataset(test_images, seed=2))
    return folder


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a synthetic MNIST folder: 400 training and 100 test digits."""
    return write_digit_folder(tmp_path_factory.mktemp("digits"), 400, 100)


class ThreadRun:
    """Run `run_training` on a thread, as the training process's main thread does."""

    def __init__(self, job: TrainingJob, cache: MnistCache | None = None) -> None:
        self.messages: queue.SimpleQueue = queue.SimpleQueue()
        self.control = TrainingControl()
        self.abandoned = threading.Event()
        arguments = (job, cache or MnistCache(), self.messages.put, self.control, self.abandoned)
        self._thread = threading.Thread(target=run_training, args=arguments, daemon=True)

    def start(self) -> None:
        """Start the run."""
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait up to timeout seconds for the run to end; return True if it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def abandon(self) -> None:
        """Abandon the run, as closing the window does."""
        self.abandoned.set()
        self.control.stop()


def run_worker(worker: ThreadRun | DownloadWorker) -> list:
    """Start a worker, wait for it to end and return every message it posted, in order."""
    worker.start()
    assert worker.join(WORKER_TIMEOUT_SECONDS), "the worker did not finish in time"
    return drain(worker.messages)


def drain(messages: queue.SimpleQueue) -> list:
    """Return every message waiting in the queue."""
    taken = []
    while not messages.empty():
        taken.append(messages.get_nowait())
    return taken


def batch_end(batch: int, epoch: int = 1, per_epoch: int = 10, loss: float = 1.0) -> BatchEnd:
    """Return a BatchEnd event for batch (1-based) of epoch, 32 samples a batch."""
    seen = ((epoch - 1) * per_epoch + batch) * 32
    return BatchEnd(epoch, batch, per_epoch, seen, per_epoch * 32 * 2, loss, loss, 0.1, 100.0, 1.0)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ----- messages --------------------------------------------------------------------------------


def test_take_messages_merges_progress_runs_and_keeps_only_the_newest_weights():
    messages: queue.SimpleQueue = queue.SimpleQueue()
    old_weights = WeightsUpdate(None, 10)
    new_weights = WeightsUpdate(None, 20)
    sequence = [
        Progress(batch_end(1), (LossPoint(0.1, 2.0),)),
        Progress(batch_end(2), (LossPoint(0.2, 1.5),)),
        old_weights,
        EpochDone(None),
        Progress(batch_end(3), (LossPoint(0.3, 1.0),)),
        new_weights,
    ]
    for message in sequence:
        messages.put(message)

    taken = take_messages(messages, limit=10)

    assert [type(message) for message in taken] == [Progress, EpochDone, Progress, WeightsUpdate]
    assert taken[0].batch.batch == 2
    assert [point.loss for point in taken[0].points] == [2.0, 1.5]
    assert taken[3] is new_weights


def test_take_messages_takes_at_most_the_limit():
    messages: queue.SimpleQueue = queue.SimpleQueue()
    for index in range(5):
        messages.put(Loading(Path(str(index))))
    assert len(take_messages(messages, limit=3)) == 3
    assert len(take_messages(messages, limit=3)) == 2


def test_loss_points_average_groups_and_close_a_group_at_each_epoch_end():
    per_epoch = 700
    points = LossPoints(total_batches=per_epoch * 2)
    assert points.group == math.ceil(per_epoch * 2 / MAX_LOSS_POINTS) == 3
    for epoch in (1, 2):
        for batch in range(1, per_epoch + 1):
            points.add(batch_end(batch, epoch, per_epoch, loss=float(batch)))
    taken = points.take()
    assert len(taken) <= MAX_LOSS_POINTS
    assert taken[0] == LossPoint(3 / per_epoch, 2.0)  # mean of losses 1, 2, 3
    # 700 = 233 groups of 3 + 1 left over, closed by the epoch's end on its own.
    assert taken[233] == LossPoint(1.0, 700.0)
    assert taken[-1].epoch_position == pytest.approx(2.0)
    assert points.take() == ()


def test_event_relay_throttles_progress_but_keeps_every_point():
    clock = FakeClock()
    posted: list = []
    relay = EventRelay(
        posted.append, TrainingControl(), total_batches=20, geometry=lambda: GEOMETRY, clock=clock
    )
    for batch in range(1, 6):
        clock.now += PROGRESS_INTERVAL_SECONDS / 4
        relay(batch_end(batch))
    relay.flush()
    progress = [message for message in posted if isinstance(message, Progress)]
    assert len(progress) == 2  # one when the interval passed, one for the flush
    assert sum(len(message.points) for message in progress) == 5
    assert progress[-1].batch.batch == 5


def test_event_relay_asks_for_snapshots_at_a_rate_that_keeps_their_cost_small():
    clock = FakeClock()
    control = TrainingControl()
    posted: list = []
    relay = EventRelay(
        posted.append, control, total_batches=100, geometry=lambda: GEOMETRY, clock=clock
    )
    relay(batch_end(1))
    assert not control.take_snapshot_request()  # too early

    clock.now += SNAPSHOT_INTERVAL_SECONDS
    relay(batch_end(2))
    assert control.take_snapshot_request()
    expensive = 0.1  # seconds for this snapshot
    clock.now += expensive
    weights = Network.create(SMALL_NETWORK, seed=0).weights
    relay(WeightsSnapshot(weights, samples_seen=64))

    update = next(message for message in posted if isinstance(message, WeightsUpdate))
    assert update.cost_seconds == pytest.approx(expensive)
    assert update.interval_seconds == pytest.approx(expensive / SNAPSHOT_COST_SHARE)
    assert [picture.units for picture in update.heatmaps.layers] == [16, 10]
    assert relay.snapshot_seconds == pytest.approx(expensive)
    clock.now += SNAPSHOT_INTERVAL_SECONDS  # less than the stretched interval
    relay(batch_end(3))
    assert not control.take_snapshot_request()


def test_event_relay_passes_on_statistics_pauses_and_recoveries_after_pending_progress():
    clock = FakeClock()
    posted: list = []
    relay = EventRelay(
        posted.append, TrainingControl(), total_batches=20, geometry=lambda: GEOMETRY, clock=clock
    )
    layers = (
        LayerStatistics(0.5, 0.2, (1, 2, 3), 4, 16),
        LayerStatistics(0.1, 0.3, (6,), None, 10),
    )
    relay(NetworkStatistics(layers, epoch=1, samples_seen=64, probe_images=32, cost_seconds=0.01))
    relay(batch_end(1))
    relay(Paused(epoch=1, batch=2, samples_seen=32))
    recovered = DivergenceRecovered(1, 2, 64, "a NaN loss", 0.5, 0.25, 1, 1, "lowered")
    relay(recovered)
    assert [type(message) for message in posted] == [Statistics, Progress, RunPaused, Recovered]
    assert posted[0] == Statistics(layers, epoch=1, samples_seen=64)
    assert posted[2] == RunPaused(epoch=1, batch=2, samples_seen=32)
    assert posted[3].event == recovered


# ----- the training worker -----------------------------------------------------------------------


def training_job(folder: Path, **settings: object) -> TrainingJob:
    """Return a job training a small network on folder's data."""
    config = TrainConfig(**{"epochs": 2, "batch_size": 16, "learning_rate": 0.1, **settings})
    network = Network.create(SMALL_NETWORK, seed=0)
    return TrainingJob(network, config, folder, GEOMETRY)


def test_worker_reports_a_whole_run_in_order(digit_folder):
    taken = run_worker(ThreadRun(training_job(digit_folder)))

    kinds = [type(message) for message in taken]
    assert kinds[:3] == [Loading, Started, WeightsUpdate]
    assert kinds[-2:] == [Evaluating, Finished]
    assert kinds.count(EpochDone) == 2
    started = taken[1]
    assert (started.train_images, started.test_images, started.batches_per_epoch) == (400, 100, 25)
    points = [
        point for message in taken if isinstance(message, Progress) for point in message.points
    ]
    assert len(points) == 50
    assert points[-1].epoch_position == pytest.approx(2.0)
    finished = taken[-1]
    assert finished.result.reason == "finished"
    assert finished.evaluation.accuracy > 0.3  # chance is 0.1
    assert sum(map(sum, finished.evaluation.confusion)) == len(finished.test_set) == 100
    # The charts' statistics come at least for the trained network, with one entry a layer.
    statistics = [message for message in taken if isinstance(message, Statistics)]
    assert statistics and len(statistics[-1].layers) == 2
    assert statistics[-1].samples_seen == 800


def drawn_nine(rng: random.Random) -> Image.Image:
    """Return a 280×280 drawing (dark ink on white) of a 9 as a person might keep it."""
    image = Image.new("L", (280, 280), 255)
    font = ImageFont.load_default(rng.randint(150, 200))
    centre = (140 + rng.randint(-30, 30), 140 + rng.randint(-30, 30))
    ImageDraw.Draw(image).text(
        centre, "9", fill=0, font=font, anchor="mm", stroke_width=rng.randint(2, 6), stroke_fill=0
    )
    return image


def test_my_digits_join_the_training_images_at_about_their_share():
    mnist = digit_dataset(400, seed=3)
    drawings = [
        Sample(StoredDrawing(Path(f"{label}/{label}.png"), label), bytes([label]) * 784)
        for label in (4, 9)
    ]

    joined = training_worker.with_my_digits(mnist, drawings)

    repeats = round(training_worker.MY_DIGITS_SHARE * 400 / 2)
    assert joined.images[:400] == mnist.images and joined.labels[:400] == mnist.labels
    assert joined.labels[400:] == [4, 9] * repeats
    assert joined.images[400:402] == [bytes([4]) * 784, bytes([9]) * 784]
    assert training_worker.with_my_digits(mnist, []) is mnist


def test_a_run_with_my_digits_learns_a_digit_mnist_lacks(tmp_path):
    """Training data without a single 9, plus ten kept 9s: the run then reads new 9s."""
    rng = random.Random(5)
    without_nines = digit_dataset(500, seed=4)
    kept = [(image, label) for image, label in zip(without_nines.images, without_nines.labels)]
    kept = [pair for pair in kept if pair[1] != 9]
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_split(folder, "train", Dataset([p[0] for p in kept], [p[1] for p in kept]))
    write_split(folder, "t10k", digit_dataset(50, seed=2))
    store = DigitStore(tmp_path / "mine")
    for _ in range(10):
        store.add(drawn_nine(rng), 9)
    new_nines = [preprocess_image(drawn_nine(rng)).pixels for _ in range(20)]

    def nines_read(job: TrainingJob) -> tuple[Started, float]:
        taken = run_worker(ThreadRun(job))
        network = taken[-1].result.network
        readings = [network.predict([value / 255 for value in pixels]) for pixels in new_nines]
        right = sum(max(range(10), key=outputs.__getitem__) == 9 for outputs in readings)
        return taken[1], right / len(new_nines)

    settings = {"epochs": 3, "learning_rate": 0.3, "limit": 300}
    without, without_read = nines_read(training_job(folder, **settings))
    with_mine, with_read = nines_read(
        replace(training_job(folder, **settings), my_digits=tmp_path / "mine")
    )

    assert (without.train_images, without.my_drawings) == (300, 0)
    repeats = round(training_worker.MY_DIGITS_SHARE * 300 / 10)
    assert (with_mine.train_images, with_mine.my_drawings) == (300 + 10 * repeats, 10)
    assert with_mine.my_digit_images == 10 * repeats
    assert without_read == 0.0  # it never saw a 9
    assert with_read >= 0.7


def test_worker_applies_a_new_learning_rate_from_the_next_batch(digit_folder):
    worker = ThreadRun(training_job(digit_folder, schedule="constant", epochs=3))
    messages = worker.messages
    worker.control.pause()
    worker.start()
    # The pause takes effect before the first batch, and the tab is told so.
    wait_for(lambda: RunPaused(epoch=1, batch=1, samples_seen=0) in peek(messages))
    worker.control.set_learning_rate(0.02)
    worker.control.resume()
    taken = run_worker_to_end(worker)
    rates = {message.batch.learning_rate for message in taken if isinstance(message, Progress)}
    assert rates == {0.02}


def run_worker_to_end(worker: ThreadRun) -> list:
    """Wait for a started worker to end and return its messages."""
    assert worker.join(WORKER_TIMEOUT_SECONDS), "the worker did not finish in time"
    return drain(worker.messages)


def test_stopped_run_is_still_evaluated(digit_folder):
    worker = ThreadRun(training_job(digit_folder, epochs=50))
    messages = worker.messages
    worker.start()
    wait_for(lambda: any(isinstance(m, Progress) for m in peek(messages)))
    worker.control.stop()
    taken = run_worker_to_end(worker)
    assert isinstance(taken[-1], Finished)
    assert taken[-1].result.reason == "stopped"


def test_abandoned_run_ends_quickly_without_results(digit_folder):
    worker = ThreadRun(training_job(digit_folder, epochs=50))
    messages = worker.messages
    worker.start()
    wait_for(lambda: any(isinstance(m, Progress) for m in peek(messages)))
    started = time.perf_counter()
    worker.abandon()
    assert worker.join(1.0)
    assert time.perf_counter() - started < 1.0
    assert not any(isinstance(message, (Finished, Evaluating)) for message in drain(messages))


def test_diverging_run_recovers_by_default(digit_folder):
    job = training_job(digit_folder, learning_rate=10.0, schedule="constant", epochs=3)
    finished = run_worker(ThreadRun(job))[-1]
    assert isinstance(finished, Finished)
    assert finished.result.reason == "finished"
    assert finished.result.divergences >= 1
    assert finished.result.final_learning_rate < 10.0


def test_diverging_run_under_the_stop_policy_ends_with_the_last_good_weights(digit_folder):
    job = training_job(
        digit_folder, learning_rate=10.0, schedule="constant", epochs=5, on_divergence="stop"
    )
    finished = run_worker(ThreadRun(job))[-1]
    assert isinstance(finished, Finished)
    assert finished.result.reason == "diverged"
    assert "smaller learning rate" in finished.result.message
    weights = finished.result.network.weights
    assert all(math.isfinite(w) for layer in weights for row in layer for w in row)


def test_missing_data_is_a_data_problem_not_a_crash(tmp_path):
    taken = run_worker(ThreadRun(training_job(tmp_path / "nowhere")))
    assert [type(message) for message in taken] == [Loading, DataFailed]
    assert "does not exist" in taken[-1].message


def test_an_unexpected_exception_becomes_a_failed_message_with_its_traceback(tmp_path):
    class BrokenCache:
        def load(self, folder: Path) -> None:
            raise RuntimeError("disk on fire")

    network = Network.create(SMALL_NETWORK)
    job = TrainingJob(network, TrainConfig(), tmp_path, GEOMETRY)
    failed = run_worker(ThreadRun(job, BrokenCache()))[-1]
    assert isinstance(failed, Failed)
    assert failed.task == "training"
    assert failed.summary == "RuntimeError: disk on fire"
    assert "Traceback" in failed.details and 'raise RuntimeError("disk on fire")' in failed.details


def test_an_empty_test_set_is_refused_before_training(tmp_path):
    folder = tmp_path / "no-tests"
    folder.mkdir()
    write_split(folder, "train", digit_dataset(20, seed=1))
    write_split(folder, "t10k", Dataset([], []))
    taken = run_worker(ThreadRun(training_job(folder)))
    assert [type(message) for message in taken] == [Loading, DataFailed]
    assert taken[-1].message == f"The MNIST test set in {folder} has no images."


def test_a_run_whose_testing_fails_keeps_its_weights(digit_folder, monkeypatch):
    def failing_evaluate(*args: object, **kwargs: object) -> None:
        raise ValueError("the test images are unreadable")

    monkeypatch.setattr(training_worker, "evaluate", failing_evaluate)
    failed = run_worker(ThreadRun(training_job(digit_folder, epochs=1)))[-1]
    assert isinstance(failed, Failed)
    assert (failed.task, failed.summary) == (
        "testing",
        "ValueError: the test images are unreadable",
    )
    assert failed.network is not None and failed.network.layer_sizes == SMALL_NETWORK
    assert failed.network.weights != Network.create(SMALL_NETWORK, seed=0).weights


def test_mnist_cache_reads_a_folder_once(digit_folder, monkeypatch):
    cache = MnistCache()
    first = cache.load(digit_folder)
    monkeypatch.setattr(training_worker, "load_mnist", pytest.fail)
    assert cache.load(digit_folder) == first


def peek(messages: queue.SimpleQueue) -> list:
    """Return the waiting messages and put them back."""
    taken = drain(messages)
    for message in taken:
        messages.put(message)
    return taken


def wait_for(condition: object, timeout: float = WORKER_TIMEOUT_SECONDS) -> None:
    """Wait until condition() is true; fail after timeout seconds."""
    deadline = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < deadline, "timed out"
        time.sleep(0.01)


# ----- the download worker -----------------------------------------------------------------------


def test_download_reports_throttled_progress_then_done(tmp_path):
    clock = FakeClock()

    def download(folder: Path, progress: object, cancel: object) -> None:
        for done in range(0, 1001, 100):
            clock.now += 0.01
            progress("train-images-idx3-ubyte.gz", done, 1000)

    messages: queue.SimpleQueue = queue.SimpleQueue()
    taken = run_worker(DownloadWorker(tmp_path, messages, download, clock))
    progress = [message for message in taken if isinstance(message, DataProgress)]
    assert progress[0].done == 0 and progress[-1].done == 1000
    assert len(progress) < 11
    assert taken[-1] == DownloadDone(tmp_path)


@pytest.mark.parametrize(
    ("error", "cancelled"),
    [(DownloadError("no network: connection refused"), False), (DownloadCancelled("x"), True)],
)
def test_download_problems_are_reported(tmp_path, error, cancelled):
    def download(folder: Path, progress: object, cancel: object) -> None:
        raise error

    messages: queue.SimpleQueue = queue.SimpleQueue()
    done = run_worker(DownloadWorker(tmp_path, messages, download))[-1]
    assert isinstance(done, DownloadDone)
    assert done.cancelled == cancelled
    assert done.problem == ("The download was cancelled." if cancelled else str(error))


def test_download_passes_the_cancel_event(tmp_path):
    def download(folder: Path, progress: object, cancel: object) -> None:
        assert cancel.wait(WORKER_TIMEOUT_SECONDS)
        raise DownloadCancelled("stopped")

    messages: queue.SimpleQueue = queue.SimpleQueue()
    worker = DownloadWorker(tmp_path, messages, download)
    worker.start()
    worker.cancel.set()
    assert worker.join(WORKER_TIMEOUT_SECONDS)
    assert drain(messages)[-1].cancelled


# ----- the form --------------------------------------------------------------------------------


def test_presets_are_the_default_and_the_classic_network():
    presets = architecture_presets()
    shapes = [preset.architecture.layer_sizes() for preset in presets.values()]
    assert shapes == [[784, 128, 10], [784, 16, 16, 10]]
    assert [preset.architecture.activation for preset in presets.values()] == ["relu", "sigmoid"]


@pytest.mark.parametrize(
    ("hidden", "sizes"),
    [("16-16", [784, 16, 16, 10]), ("128", [784, 128, 10]), (" 32, 8 ", [784, 32, 8, 10])],
)
def test_hidden_sizes_are_read_leniently(hidden, sizes):
    assert Architecture(hidden, "relu", "cross_entropy").layer_sizes() == sizes


def test_bad_hidden_sizes_say_what_is_wrong():
    with pytest.raises(ValueError, match="784-128-10"):
        Architecture("sixteen", "relu", "cross_entropy").layer_sizes()


def test_settings_build_the_engine_config_and_network():
    settings = TrainSettings(
        architecture=Architecture("32", "tanh", "cross_entropy"),
        continue_loaded=False,
        learning_rate=0.3,
        batch_size=64,
        epochs=4,
        train_images=5000,
        augment=True,
        schedule="step",
    )
    config = settings.config()
    assert (config.learning_rate, config.batch_size, config.epochs, config.limit) == (
        0.3,
        64,
        4,
        5000,
    )
    assert config.augment and config.schedule == "step"
    network = settings.network(loaded=None)
    assert network.layer_sizes == [784, 32, 10] and network.activation == "tanh"


def test_continuing_needs_a_loaded_model():
    settings = TrainSettings(
        Architecture("", "relu", "cross_entropy"), True, 0.1, 32, 1, 1000, False, "cosine"
    )
    loaded = Network.create(SMALL_NETWORK)
    assert settings.network(loaded) is loaded
    with pytest.raises(ValueError, match="no loaded model"):
        settings.network(None)


def test_learning_rate_slider_is_logarithmic_and_snaps_to_round_rates():
    for rate in (0.001, 0.015, 0.1, 0.25, 0.5, 10.0):
        assert learning_rate_at(slider_position(rate)) == rate
    assert learning_rate_at(-1.5) == 0.03  # 10^-1.5 = 0.0316…
    assert learning_rate_at(-0.02) == 1.0  # 0.955…, nearer 1 than 0.8 on the log scale
    assert slider_position(1e-9) == slider_position(0.001)


def test_durations_and_remaining_time():
    assert format_duration(5.4) == "0:05"
    assert format_duration(125) == "2:05"
    assert format_duration(3725) == "1:02:05"
    halfway = BatchEnd(1, 5, 10, 320, 640, 1.0, 1.0, 0.1, 100.0, 3.2)
    assert remaining_seconds(halfway) == pytest.approx(3.2)
    assert "Epoch 1/2" in progress_text(halfway, 2) and "0:03 left" in progress_text(halfway, 2)


def test_sizes_and_data_presence(digit_folder, tmp_path):
    assert describe_size(1000) == "1,000"
    assert describe_size(60_000) == "60,000 (all)"
    assert mnist_present(digit_folder)
    assert not mnist_present(tmp_path)


@pytest.mark.parametrize(
    ("reason", "headline", "details"),
    [
        ("finished", "Finished: test accuracy 91.2%", "2 of 3 epochs · 1:05 of training"),
        ("stopped", "Stopped: test accuracy 91.2%", "2 of 3 epochs"),
        ("diverged", "Diverged: the last good weights were kept", "try a smaller rate"),
    ],
)
def test_outcomes_are_worded_for_the_tab(reason, headline, details):
    message = "Training diverged (overflow). The last good weights were kept; try a smaller rate."
    result = TrainingResult(Network.create(SMALL_NETWORK), reason, message, 65.0, 1500.0, 2, 0.9)
    outcome = describe_outcome(result, 0.912, epochs=3)
    assert outcome.headline.startswith(headline)
    assert details in outcome.details
    assert len(outcome.status) < 100
