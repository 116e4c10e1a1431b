"""Tests for engine.evaluate: the figures from predictions, the fast path, stopping and progress."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from engine.evaluate import (
    CHECK_EVERY,
    EvaluationStopped,
    evaluate,
    evaluation_from_predictions,
)
from engine.fast import WIDE_LANE_BITS, FastNetwork, quantised_inputs
from engine.inference import predictor
from engine.mnist import Dataset, load_mnist
from engine.modelfile import DEFAULT_MODEL_PATH, load_model
from engine.network import Network


def stripes_dataset(count: int) -> Dataset:
    """Return images of a horizontal or vertical bar at varying places, labelled 0 or 1."""
    images, labels = [], []
    for index in range(count):
        label = index % 2
        offset = 6 + index % 14
        pixels = bytearray(784)
        for along in range(4, 24):
            row, column = (offset, along) if label == 0 else (along, offset)
            pixels[row * 28 + column] = 255
        images.append(bytes(pixels))
        labels.append(label)
    return Dataset(images, labels)


def test_figures_from_predictions():
    labels = [0, 0, 1, 1, 1, 2]
    predictions = [0, 1, 1, 1, 2, 2]
    result = evaluation_from_predictions(labels, predictions)
    assert result.accuracy == pytest.approx(4 / 6)
    assert result.per_class[:3] == [0.5, pytest.approx(2 / 3), 1.0]
    assert result.per_class[3:] == [None] * 7
    assert result.confusion[0][:3] == [1, 1, 0]
    assert result.confusion[1][:3] == [0, 2, 1]
    assert result.confusion[2][:3] == [0, 0, 1]
    assert sum(map(sum, result.confusion)) == len(labels)
    assert result.misclassified == [1, 4]
    assert result.predictions == predictions


@pytest.mark.parametrize(
    ("labels", "predictions", "problem"),
    [([1, 2], [1], "2 labels but 1 predictions"), ([], [], "no labels"), ([3], [10], "0..9")],
)
def test_bad_predictions_are_refused(labels, predictions, problem):
    with pytest.raises(ValueError, match=problem):
        evaluation_from_predictions(labels, predictions)


def test_evaluate_uses_the_fast_path_predictions():
    dataset = stripes_dataset(40)
    network = Network.create([784, 12, 10], seed=5)
    fast = FastNetwork(network)
    expected = []
    for pixels in dataset.images:
        outputs = fast.predict(pixels)
        expected.append(outputs.index(max(outputs)))
    result = evaluate(network, dataset)
    assert result.predictions == expected
    assert sum(map(sum, result.confusion)) == len(dataset)
    assert result.accuracy == pytest.approx(
        sum(p == label for p, label in zip(expected, dataset.labels)) / len(dataset)
    )


def test_progress_is_reported_up_to_the_total():
    dataset = stripes_dataset(CHECK_EVERY + 10)
    reports = []
    evaluate(Network.create([784, 4, 10]), dataset, progress=lambda *report: reports.append(report))
    assert reports == [(CHECK_EVERY, len(dataset)), (len(dataset), len(dataset))]


def test_a_set_stop_event_stops_the_evaluation():
    stop = threading.Event()
    stop.set()
    with pytest.raises(EvaluationStopped, match="after 0 of 20 images"):
        evaluate(Network.create([784, 4, 10]), stripes_dataset(20), stop=stop)


def test_an_empty_dataset_is_refused():
    with pytest.raises(ValueError, match="empty"):
        evaluate(Network.create([784, 4, 10]), Dataset([], []))


@pytest.mark.mnist
def test_shipped_default_model_reads_real_mnist():
    folder = os.environ.get("DIGITS_DATA", "")
    if not folder or not Path(folder).is_dir():
        pytest.skip("real MNIST not available: set DIGITS_DATA to a folder with the MNIST files")
    if not DEFAULT_MODEL_PATH.is_file():
        pytest.skip(f"no shipped default model at {DEFAULT_MODEL_PATH} yet")
    test_set = load_mnist(folder, "test").subset(2000)
    result = evaluate(load_model(DEFAULT_MODEL_PATH), test_set)
    assert result.accuracy > 0.95
    assert all(accuracy is not None and accuracy > 0.85 for accuracy in result.per_class)


def scaled_first_layer(network: Network, factor: float) -> Network:
    """Return a copy of network whose first-layer weights are multiplied by factor."""
    weights = [[[w * factor for w in row] for row in network.weights[0]], *network.weights[1:]]
    return Network(
        network.layer_sizes, network.activation, network.loss, weights, network.biases, {}
    )


def inked_dataset(count: int) -> Dataset:
    """Return images from nearly blank to fully inked, labels cycling through 0..9."""
    images = [
        (bytes([255]) * (784 * index // (count - 1)) + bytes(784))[:784] for index in range(count)
    ]
    return Dataset(images, [index % 10 for index in range(count)])


@pytest.mark.parametrize(
    ("activation", "factor"),
    [("relu", 400.0), ("relu", 1e5), ("sigmoid", 400.0), ("leaky_relu", 400.0), ("tanh", 1e5)],
)
def test_models_with_large_first_layer_weights_are_evaluated_exactly(activation, factor):
    """The fast path cannot hold these sums (a full image overflows its lanes, or the weights
    do not even fit one): evaluate falls back to floats and agrees with Network.predict."""
    network = scaled_first_layer(Network.create([784, 12, 10], activation, seed=4), factor)
    assert not isinstance(predictor(network), FastNetwork)
    dataset = inked_dataset(21)
    expected = [
        max(range(10), key=network.predict(quantised_inputs(pixels)).__getitem__)
        for pixels in dataset.images
    ]
    assert evaluate(network, dataset).predictions == expected


def test_ordinary_models_keep_the_fast_path():
    network = Network.create([784, 12, 10], seed=4)
    assert isinstance(predictor(network), FastNetwork)
    assert isinstance(predictor(scaled_first_layer(network, 4.0)), FastNetwork)
    if DEFAULT_MODEL_PATH.is_file():
        assert isinstance(predictor(load_model(DEFAULT_MODEL_PATH)), FastNetwork)


def test_the_lane_bound_is_exact_enough_to_matter():
    """A network just inside the bound keeps the fast path and reads a full image right; a
    little further out it is refused, before any lane can wrap."""
    network = Network.create([784, 12, 10], seed=4)
    # The bound is that of wide lanes: narrow ones move to them when a sum would not fit.
    fast = FastNetwork(network, first_lane_bits=WIDE_LANE_BITS)
    limit = fast.layers[0].codec.limit
    largest_sum = (
        max(sum(abs(row[i]) for i in range(784)) for row in network.weights[0])
        * fast.layers[0].sum_unit
    )
    inside = scaled_first_layer(network, 0.9 * limit / largest_sum)
    outside = scaled_first_layer(network, 1.1 * limit / largest_sum)
    assert FastNetwork(inside).fits_every_image()
    assert not FastNetwork(outside).fits_every_image()
    full = bytes([255] * 784)
    assert FastNetwork(inside).predict(full) == pytest.approx(
        inside.predict(quantised_inputs(full)), abs=1e-3
    )
