"""Measure the engine's speed on fixed synthetic data, so the numbers mean the same anywhere.

Three figures, each the median of several repeats:
  - training throughput (samples per second) of the classic 784-16-16-10 sigmoid/MSE network
    and of the default 784-128-10 ReLU/cross-entropy network: `FastNetwork.train_batch` on
    images already converted to sparse form, with `TrainConfig`'s default batch size, learning
    rate, momentum and first-layer lanes, so it measures what `train` spends per batch without
    data preparation (every repeat starts from the same initial weights, so each does exactly
    the same work). The labels are random, so no sample is ever confident enough to skip its
    backward pass: this is the cost of a sample that is learnt from, the first epoch's cost;
  - inference latency (milliseconds) of one already preprocessed image on the default network:
    `sparse_image` plus `FastNetwork.predict_sparse`, what the app does on every stroke;
  - preprocessing latency (milliseconds) of one 280×280 drawing (`preprocess_image`).
The images are MNIST-like strokes drawn with Pillow from a seeded random generator: about
125 inked pixels of varied intensity each, like MNIST digits, with random labels.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

from PIL import Image, ImageDraw

from engine.fast import FastNetwork, SparseImage, sparse_image
from engine.mnist import DIGIT_CLASSES, IMAGE_COLUMNS, IMAGE_ROWS
from engine.network import Network
from engine.preprocess import preprocess_image
from engine.train import TrainConfig, lane_bits

CLASSIC_ARCHITECTURE = ([784, 16, 16, 10], "sigmoid", "cross_entropy")
DEFAULT_ARCHITECTURE = ([784, 128, 10], "relu", "cross_entropy")
SYNTHETIC_SEED = 2024
SYNTHETIC_IMAGES = 512
# Untimed batches before each timed repeat: until then most momentum lanes are still zero,
# which makes batches cheaper than in a real run.
WARMUP_BATCHES = 10
# Strokes are drawn at 4× and box-filtered down, which gives MNIST's anti-aliased grey edges.
SUPERSAMPLE = 4
STROKES_PER_IMAGE = (1, 3)
POINTS_PER_STROKE = (3, 5)
STROKE_WIDTH = (8, 11)
STROKE_INK = (170, 255)
# Strokes stay inside the middle 20×20 px box (in 28×28 units), as MNIST digits do.
STROKE_BOX = ((6, 22), (4, 24))
DRAWING_SIZE = 280
DRAWING_STROKE_WIDTH = 20
DRAWING_MARGIN = 0.2


@dataclass(frozen=True)
class BenchSettings:
    """How long to measure: repeats of each figure, batches per training repeat, latency runs."""

    repeats: int
    batches_per_repeat: int
    latency_runs: int


FULL = BenchSettings(repeats=5, batches_per_repeat=40, latency_runs=300)
QUICK = BenchSettings(repeats=3, batches_per_repeat=6, latency_runs=40)


@dataclass(frozen=True)
class BenchResult:
    """The measured figures (medians over `repeats`) and what they were measured on."""

    python: str
    implementation: str
    classic_samples_per_second: float
    default_samples_per_second: float
    inference_ms: float
    preprocess_ms: float
    repeats: int
    batch_size: int
    batches_per_repeat: int

    def as_dict(self) -> dict[str, object]:
        """Return the figures as a JSON-ready dict keyed by field name."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def run_bench(
    settings: BenchSettings = FULL, progress: Callable[[str], None] | None = None
) -> BenchResult:
    """Return the training throughputs and latencies measured with `settings`.

    `progress(text)` is told which measurement starts next.
    """
    report = progress or (lambda text: None)
    config = TrainConfig()
    rng = random.Random(SYNTHETIC_SEED)
    images = [synthetic_image(rng) for _ in range(SYNTHETIC_IMAGES)]
    samples = [(sparse_image(pixels), rng.randrange(DIGIT_CLASSES)) for pixels in images]
    batches = training_batches(
        samples, config.batch_size, WARMUP_BATCHES + settings.batches_per_repeat
    )
    networks = {
        name: Network.create(layer_sizes, activation, loss, seed=SYNTHETIC_SEED)
        for name, (layer_sizes, activation, loss) in (
            ("classic", CLASSIC_ARCHITECTURE),
            ("default", DEFAULT_ARCHITECTURE),
        )
    }
    durations: dict[str, list[float]] = {name: [] for name in networks}
    # Repeats alternate between the networks so that both see the same changes in machine load.
    for repeat in range(1, settings.repeats + 1):
        report(f"training throughput, repeat {repeat} of {settings.repeats}")
        for name, network in networks.items():
            durations[name].append(training_seconds(network, batches, config))
    samples_timed = config.batch_size * settings.batches_per_repeat
    throughputs = {
        name: samples_timed / statistics.median(times) for name, times in durations.items()
    }
    report("inference and preprocessing latency")
    return BenchResult(
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        classic_samples_per_second=throughputs["classic"],
        default_samples_per_second=throughputs["default"],
        inference_ms=inference_milliseconds(networks["default"], images, settings),
        preprocess_ms=preprocess_milliseconds(rng, settings),
        repeats=settings.repeats,
        batch_size=config.batch_size,
        batches_per_repeat=settings.batches_per_repeat,
    )


def synthetic_image(rng: random.Random) -> bytes:
    """Return one MNIST-like 28×28 image (784 bytes, ink high) of random anti-aliased strokes."""
    size = (IMAGE_COLUMNS * SUPERSAMPLE, IMAGE_ROWS * SUPERSAMPLE)
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    (left, right), (top, bottom) = STROKE_BOX
    for _ in range(rng.randint(*STROKES_PER_IMAGE)):
        points = [
            (rng.uniform(left, right) * SUPERSAMPLE, rng.uniform(top, bottom) * SUPERSAMPLE)
            for _ in range(rng.randint(*POINTS_PER_STROKE))
        ]
        ink = rng.randint(*STROKE_INK)
        draw.line(points, fill=ink, width=rng.randint(*STROKE_WIDTH), joint="curve")
    return canvas.resize((IMAGE_COLUMNS, IMAGE_ROWS), Image.Resampling.BOX).tobytes()


def training_batches(
    samples: list[tuple[SparseImage, int]], batch_size: int, count: int
) -> list[list[tuple[SparseImage, int]]]:
    """Return count mini-batches of consecutive samples, wrapping around the list."""
    return [
        [samples[(start + k) % len(samples)] for k in range(batch_size)]
        for start in range(0, batch_size * count, batch_size)
    ]


def training_seconds(
    network: Network, batches: list[list[tuple[SparseImage, int]]], config: TrainConfig
) -> float:
    """Return the seconds `train_batch` takes over the batches after the first WARMUP_BATCHES.

    Each call starts afresh from the network's weights, so every repeat does exactly the same
    work; the untimed warm-up batches fill the momentum (if any), as in the middle of a run.
    """
    fast = FastNetwork(network, first_lane_bits=lane_bits(config.momentum))
    settings = (config.learning_rate, config.momentum, config.weight_decay, config.skip_confidence)
    for batch in batches[:WARMUP_BATCHES]:
        fast.train_batch(batch, *settings)
    started = time.perf_counter()
    for batch in batches[WARMUP_BATCHES:]:
        fast.train_batch(batch, *settings)
    return time.perf_counter() - started


def inference_milliseconds(network: Network, images: list[bytes], settings: BenchSettings) -> float:
    """Return the median time in ms to read one preprocessed 784-byte image on the fast path.

    Each run times one image on its own, as the app reads one drawing at a time.
    """
    fast = FastNetwork(network)
    durations = []
    for run in range(settings.latency_runs * settings.repeats):
        pixels = images[run % len(images)]
        started = time.perf_counter()
        fast.predict_sparse(sparse_image(pixels))
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1000.0


def preprocess_milliseconds(rng: random.Random, settings: BenchSettings) -> float:
    """Return the median time in ms to preprocess one 280×280 drawing of random strokes."""
    drawings = []
    for _ in range(settings.repeats):
        drawing = Image.new("L", (DRAWING_SIZE, DRAWING_SIZE), 255)
        low, high = DRAWING_SIZE * DRAWING_MARGIN, DRAWING_SIZE * (1 - DRAWING_MARGIN)
        points = [(rng.uniform(low, high), rng.uniform(low, high)) for _ in range(5)]
        ImageDraw.Draw(drawing).line(points, fill=0, width=DRAWING_STROKE_WIDTH, joint="curve")
        drawings.append(drawing)
    durations = []
    for run in range(settings.latency_runs):
        drawing = drawings[run % len(drawings)]
        started = time.perf_counter()
        preprocess_image(drawing)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1000.0
