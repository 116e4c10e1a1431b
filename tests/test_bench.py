"""Tests for engine.bench: the synthetic data and the figures `bench --quick --json` reports."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys

from engine.bench import SYNTHETIC_SEED, synthetic_image
from engine.fast import LEVEL_OF_PIXEL
from engine.train import TrainConfig


def test_synthetic_images_are_fixed_and_mnist_like():
    first = [synthetic_image(random.Random(SYNTHETIC_SEED)) for _ in range(2)]
    assert first[0] == first[1]
    rng = random.Random(SYNTHETIC_SEED)
    images = [synthetic_image(rng) for _ in range(200)]
    assert all(len(image) == 784 for image in images)
    # MNIST digits have about 125 pixels that the fast path sees as ink, of varied intensity.
    inked = [sum(1 for level in image.translate(LEVEL_OF_PIXEL) if level) for image in images]
    assert 90 < statistics.mean(inked) < 160
    assert len({value for image in images for value in image}) > 50


def test_quick_bench_reports_positive_figures_as_json():
    completed = subprocess.run(
        [sys.executable, "-m", "engine", "bench", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    figures = json.loads(completed.stdout)
    assert figures["python"] == ".".join(map(str, sys.version_info[:3]))
    for key in ("classic_samples_per_second", "default_samples_per_second", "inference_ms"):
        assert figures[key] > 0
    assert figures["preprocess_ms"] > 0
    assert figures["repeats"] >= 1
    assert figures["batch_size"] == TrainConfig().batch_size
