"""Measure a network on a labelled dataset: accuracy, per-digit accuracy and confusion matrix.

`evaluate` runs every image through the fast inference path (`engine.fast`, about 30 µs an
image, with the same 4-level input quantisation the network was trained with), or through
floats when a model's weights are too large for the fast path's lanes (`engine.inference`),
and can be stopped from another thread. `evaluation_from_predictions` turns labels and
predictions into the figures and is pure, so the arithmetic is tested on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.inference import predictor
from engine.mnist import DIGIT_CLASSES, Dataset
from engine.network import Network

# Images evaluated between two looks at the stop event and two progress reports.
CHECK_EVERY = 250

# progress(images_done, images_total)
EvaluationProgress = Callable[[int, int], None]


class EvaluationStopped(Exception):
    """Raised by `evaluate` when its stop event was set before every image was seen."""


@dataclass
class Evaluation:
    """The figures of one evaluation over a dataset of n labelled images.

    accuracy: fraction of images predicted correctly, 0..1.
    per_class: for each true digit 0..9 the fraction of its images predicted correctly, or
        None when the dataset holds no image of that digit (0.0 would read as "always wrong").
    confusion: 10×10 counts, confusion[true digit][predicted digit]; all counts sum to n.
    misclassified: indices into the dataset of the wrongly predicted images, ascending.
    predictions: the predicted digit of every image, index-aligned with the dataset.
    """

    accuracy: float
    per_class: list[float | None]
    confusion: list[list[int]]
    misclassified: list[int]
    predictions: list[int]


def evaluate(
    network: Network,
    dataset: Dataset,
    stop: threading.Event | None = None,
    progress: EvaluationProgress | None = None,
) -> Evaluation:
    """Return the evaluation of the network on every image of the dataset.

    The predicted digit is the output with the highest value. `progress(done, total)` is
    called every CHECK_EVERY images and at the end; setting `stop` makes the call raise
    EvaluationStopped within CHECK_EVERY images. Raises ValueError for an empty dataset.
    """
    if len(dataset) == 0:
        raise ValueError("nothing to evaluate: the dataset is empty")
    runner = predictor(network)
    total = len(dataset)
    predictions: list[int] = []
    for start in range(0, total, CHECK_EVERY):
        if stop is not None and stop.is_set():
            raise EvaluationStopped(f"evaluation stopped after {start} of {total} images")
        for pixels in dataset.images[start : start + CHECK_EVERY]:
            outputs = runner.predict(pixels)
            predictions.append(outputs.index(max(outputs)))
        if progress is not None:
            progress(len(predictions), total)
    return evaluation_from_predictions(dataset.labels, predictions)


def evaluation_from_predictions(labels: Sequence[int], predictions: Sequence[int]) -> Evaluation:
    """Return the evaluation of predicted digits against true labels (both 0..9, same length).

    Raises ValueError when the lengths differ, a digit is outside 0..9, or there are none.
    """
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    if not labels:
        raise ValueError("nothing to evaluate: no labels")
    digits = range(DIGIT_CLASSES)
    if not set(labels) | set(predictions) <= set(digits):
        raise ValueError(f"labels and predictions must be digits 0..{DIGIT_CLASSES - 1}")
    confusion = [[0] * DIGIT_CLASSES for _ in digits]
    misclassified = []
    for index, (label, predicted) in enumerate(zip(labels, predictions)):
        confusion[label][predicted] += 1
        if label != predicted:
            misclassified.append(index)
    per_class = [
        confusion[digit][digit] / sum(confusion[digit]) if sum(confusion[digit]) else None
        for digit in digits
    ]
    return Evaluation(
        accuracy=(len(labels) - len(misclassified)) / len(labels),
        per_class=per_class,
        confusion=confusion,
        misclassified=misclassified,
        predictions=list(predictions),
    )
