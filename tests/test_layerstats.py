"""Per-layer statistics: gradient norms, weight histograms and dead ReLU units."""

import math
import random

import pytest

from engine.layerstats import (
    HISTOGRAM_BINS,
    HISTOGRAM_MAX_VALUES,
    PROBE_IMAGES,
    StatisticsProbe,
    weight_histogram,
)
from engine.mnist import Dataset
from engine.network import Network
from engine.reference import backprop
from engine.train import NetworkStatistics, TrainConfig, train


def hand_network() -> Network:
    """Return 784-2-10 ReLU: hidden unit 0 always on (bias 1), unit 1 always off (bias -1),
    and output 0 fed by unit 0 with weight ln 9, so the outputs are 1/2 and 1/18 × 9."""
    first = [[0.0] * 784 for _ in range(2)]
    second = [[0.0, 0.0] for _ in range(10)]
    second[0][0] = math.log(9.0)
    return Network(
        [784, 2, 10], "relu", "cross_entropy", [first, second], [[1.0, -1.0], [0.0] * 10]
    )


def one_pixel(index: int) -> list[float]:
    inputs = [0.0] * 784
    inputs[index] = 1.0
    return inputs


def test_statistics_of_a_tiny_network_match_a_hand_calculation():
    # Image 1 (pixel 0, label 0) and image 2 (pixel 1, label 1). Output errors p - y:
    # δ1 = [-1/2, 1/18 × 9], δ2 = [1/2, 1/18 - 1, 1/18 × 8]; their mean is [0, -4/9, 1/18 × 8],
    # of squared norm 16/81 + 8/324 = 2/9. The second layer's input is a = [1, 0] for both,
    # so its gradient norm is √(2/9). Hidden errors: ln 9 · δn[0] for unit 0 (unit 1 is off),
    # so the first layer's mean gradient is ln 9 · (−½ e_0 + ½ e_1) / 2 in row 0: ln 9 · √2 / 4.
    probe = StatisticsProbe([(one_pixel(0), 0), (one_pixel(1), 1)])
    first, second = probe.measure(hand_network())
    assert first.gradient_norm == pytest.approx(math.log(9.0) * math.sqrt(2.0) / 4.0)
    assert second.gradient_norm == pytest.approx(math.sqrt(2.0 / 9.0))
    assert (first.dead_units, first.units) == (1, 2)
    assert (second.dead_units, second.units) == (None, 10)
    # All first-layer weights are 0: every one in the middle bin.
    assert first.weight_range == 0.0
    assert first.histogram[HISTOGRAM_BINS // 2] == 2 * 784 and sum(first.histogram) == 2 * 784
    # Second layer: nineteen zeros (the lower edge of the middle bin) and ln 9 (the last bin).
    assert second.weight_range == pytest.approx(math.log(9.0))
    expected = [0] * HISTOGRAM_BINS
    expected[HISTOGRAM_BINS // 2] = 19
    expected[-1] = 1
    assert list(second.histogram) == expected


@pytest.mark.parametrize(
    ("activation", "loss"),
    [("relu", "cross_entropy"), ("tanh", "cross_entropy"), ("sigmoid", "mse")],
)
def test_gradient_norms_equal_those_of_the_reference_backpropagation(activation, loss):
    rng = random.Random(1)
    network = Network.create([784, 12, 7, 10], activation, loss, seed=3)
    samples = []
    for _ in range(5):
        inputs = [0.0] * 784
        for index in rng.sample(range(784), 60):
            inputs[index] = rng.choice([0.25, 0.5, 1.0])
        samples.append((inputs, rng.randrange(10)))
    measured = StatisticsProbe(samples).measure(network)
    for layer, statistics in enumerate(measured):
        total = [[0.0] * len(row) for row in network.weights[layer]]
        for inputs, label in samples:
            gradients = backprop(network, inputs, label)[1].weights[layer]
            total = [[t + g for t, g in zip(row, grow)] for row, grow in zip(total, gradients)]
        norm = math.sqrt(sum(value * value for row in total for value in row)) / len(samples)
        assert statistics.gradient_norm == pytest.approx(norm, rel=1e-9)
        hidden_relu = activation == "relu" and layer < 2
        assert (statistics.dead_units is not None) == hidden_relu


def test_weight_histogram_bins_and_edges():
    limit, counts = weight_histogram([[-2.0, -1.0, 0.0], [0.5, 1.0, 2.0]], bins=4)
    # Bins over [-2, 2]: [-2, -1), [-1, 0), [0, 1), [1, 2]; an edge counts in the bin above.
    assert limit == 2.0
    assert counts == (1, 1, 2, 2)
    assert weight_histogram([[0.0, 0.0]], bins=4) == (0.0, (0, 0, 2, 0))


def test_a_unit_that_never_fires_counts_as_dead():
    network = Network.create([784, 6, 10], "relu", seed=0)
    network.biases[0][4] = -1e3
    probe = StatisticsProbe([(one_pixel(i * 20), i % 10) for i in range(8)])
    measured = probe.measure(network)[0]
    assert measured.dead_units >= 1
    network.biases[0] = [1e3] * 6
    assert probe.measure(network)[0].dead_units == 0


def bars(count: int) -> Dataset:
    rng = random.Random(0)
    images, labels = [], []
    for index in range(count):
        label = index % 3
        pixels = bytearray(784)
        top = 4 + 8 * label + rng.randrange(2)
        for row in range(top, top + 3):
            pixels[row * 28 + 4 : row * 28 + 24] = bytes([255]) * 20
        images.append(bytes(pixels))
        labels.append(label)
    return Dataset(images, labels)


def test_training_sends_statistics_only_when_asked_and_ends_with_the_returned_network():
    dataset = bars(60)
    config = TrainConfig(epochs=2, batch_size=10)
    silent = []
    train(Network.create([784, 8, 10], seed=0), dataset, None, config, silent.append)
    assert not any(isinstance(event, NetworkStatistics) for event in silent)

    events = []
    result = train(
        Network.create([784, 8, 10], seed=0),
        dataset,
        None,
        config,
        events.append,
        statistics_seconds=60.0,
    )
    sent = [event for event in events if isinstance(event, NetworkStatistics)]
    assert len(sent) == 1  # the run is shorter than 60 s: only the network it returns
    assert (sent[0].samples_seen, sent[0].epoch) == (120, 2)
    assert sent[0].probe_images == PROBE_IMAGES and sent[0].cost_seconds > 0
    probe = StatisticsProbe.from_dataset(dataset, seed=config.seed)
    assert sent[0].layers == probe.measure(result.network)

    events.clear()
    train(Network.create([784, 8, 10], seed=0), dataset, None, config, events.append, None, 0.0)
    sent = [event for event in events if isinstance(event, NetworkStatistics)]
    assert sent[0].samples_seen == 10  # due at once: right after the first batch
    assert sent[0].layers[0].gradient_norm != sent[-1].layers[0].gradient_norm


def test_a_big_layer_is_counted_on_evenly_spaced_weights():
    weights = [[(i % 7) - 3.0 for i in range(1000)] for _ in range(200)]  # 200,000 weights
    limit, counts = weight_histogram(weights, bins=7)
    assert limit == 3.0
    assert HISTOGRAM_MAX_VALUES // 2 < sum(counts) <= HISTOGRAM_MAX_VALUES
    assert max(counts) - min(counts) <= 1 + sum(counts) // 100  # the 7 values stay balanced
