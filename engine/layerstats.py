"""Per-layer statistics of a network for the training charts: gradient norm, weights, dead units.

A `StatisticsProbe` holds a few training images chosen once per run. `measure(network)` runs
them through the float network and returns, for every weight layer (layer 0 joins the inputs
to the first hidden layer):
  - the gradient norm: the Frobenius norm of the mean loss gradient over the probe images with
    respect to the layer's weights (biases left out), ‖(1/N) Σ_n δ_n a_nᵀ‖, where a_n is the
    layer's input and δ_n the loss gradient at its pre-activations for image n. It is computed
    without building the gradient matrix, from ‖Σ_n δ_n a_nᵀ‖² = Σ_n Σ_m (δ_n·δ_m)(a_n·a_m);
    the input images' dot products are fixed, so they are worked out once;
  - a histogram of the layer's weights in HISTOGRAM_BINS equal bins over [-r, r], r = max |w|
    (a big layer counted on evenly spaced weights, at most HISTOGRAM_MAX_VALUES of them);
  - for ReLU hidden layers, the dead units: outputs that are zero for every probe image.
Inputs are quantised exactly as the fast training path sees them.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from operator import mul

from engine.activations import activate, derivative
from engine.fast import quantised_inputs
from engine.mnist import Dataset
from engine.network import Network, dot, output_activation, weighted_sums

HISTOGRAM_BINS = 20
HISTOGRAM_MAX_VALUES = 65_536
# The forward pass over the probe is most of the cost (about 3 ms an image for 784-128-10).
PROBE_IMAGES = 32


@dataclass(frozen=True)
class LayerStatistics:
    """Describe one weight layer: gradient norm, weight histogram and dead output units.

    `histogram[k]` counts the weights in [-r + k·w, -r + (k+1)·w), w = 2r / len(histogram),
    r = `weight_range` (max |weight|; the last bin includes r); see `weight_histogram`.
    `dead_units` is None unless the layer feeds a ReLU hidden layer; `units` is the layer's
    number of outputs.
    """

    gradient_norm: float
    weight_range: float
    histogram: tuple[int, ...]
    dead_units: int | None
    units: int


class StatisticsProbe:
    """Measure `LayerStatistics` of a network on a fixed set of probe images."""

    def __init__(self, samples: list[tuple[list[float], int]]) -> None:
        """Keep the probe samples, (784 inputs in [0, 1], label) pairs; at least one."""
        if not samples:
            raise ValueError("the probe needs at least one image")
        self.inputs = [inputs for inputs, _ in samples]
        self.labels = [label for _, label in samples]
        self._input_products = _products(self.inputs)

    @classmethod
    def from_dataset(
        cls, dataset: Dataset, count: int = PROBE_IMAGES, seed: int = 0
    ) -> StatisticsProbe:
        """Return a probe of `count` images of a dataset picked at random (all if fewer)."""
        chosen = random.Random(seed).sample(range(len(dataset)), min(count, len(dataset)))
        return cls([(quantised_inputs(dataset.images[i]), dataset.labels[i]) for i in chosen])

    def measure(self, network: Network) -> tuple[LayerStatistics, ...]:
        """Return the statistics of every weight layer of the network, input side first."""
        layer_count = len(network.weights)
        layer_inputs: list[list[list[float]]] = [[] for _ in range(layer_count)]
        deltas: list[list[list[float]]] = [[] for _ in range(layer_count)]
        active = [[False] * len(biases) for biases in network.biases]
        # Errors are passed down through every layer but the first.
        transposed = [[]] + [list(zip(*rows)) for rows in network.weights[1:]]
        for inputs, label in zip(self.inputs, self.labels):
            values, pre_activations = _forward(network, inputs)
            for index in range(layer_count):
                layer_inputs[index].append(values[index])
            for seen, outputs in zip(active, values[1:]):
                seen[:] = [was or value > 0.0 for was, value in zip(seen, outputs)]
            delta = _output_delta(network.loss, values[-1], label)
            for index in range(layer_count - 1, -1, -1):
                deltas[index].append(delta)
                if index:
                    back = [dot(column, delta) for column in transposed[index]]
                    delta = [
                        total * derivative(network.activation, z, a)
                        for total, z, a in zip(back, pre_activations[index - 1], values[index])
                    ]
        count = len(self.inputs)
        statistics = []
        for index, weights in enumerate(network.weights):
            input_products = self._input_products if index == 0 else _products(layer_inputs[index])
            squared = _pairwise_sum(_products(deltas[index]), input_products)
            weight_range, histogram = weight_histogram(weights)
            relu_hidden = network.activation == "relu" and index < layer_count - 1
            statistics.append(
                LayerStatistics(
                    gradient_norm=math.sqrt(max(0.0, squared)) / count,
                    weight_range=weight_range,
                    histogram=histogram,
                    dead_units=active[index].count(False) if relu_hidden else None,
                    units=len(weights),
                )
            )
        return tuple(statistics)


def weight_histogram(
    weights: list[list[float]], bins: int = HISTOGRAM_BINS
) -> tuple[float, tuple[int, ...]]:
    """Return (r, counts): the weights counted in `bins` equal bins over [-r, r], r = max |w|.

    A value on a bin edge counts in the bin above it; r itself counts in the last bin. When
    every weight is 0 all of them count in bin bins // 2. A layer of more than
    HISTOGRAM_MAX_VALUES weights is counted on every k-th one (the fewest k that fit), so
    sum(counts) may be less than the number of weights; r is always over all of them.
    """
    values = [value for row in weights for value in row]
    limit = max(max(values), -min(values))
    # Binning is the slow part: a big layer is counted on evenly spaced weights.
    values = values[:: math.ceil(len(values) / HISTOGRAM_MAX_VALUES)]
    if limit == 0.0:
        counts = [0] * bins
        counts[bins // 2] = len(values)
        return 0.0, tuple(counts)
    scale = bins / (2.0 * limit)
    found = Counter(map(int, map(scale.__mul__, map(limit.__add__, values))))
    found[bins - 1] += found.pop(bins, 0)
    return limit, tuple(found.get(index, 0) for index in range(bins))


def _forward(network: Network, inputs: list[float]) -> tuple[list[list[float]], list[list[float]]]:
    """Return every layer's values (inputs first) and the hidden layers' pre-activations."""
    values = [inputs]
    pre_activations = []
    last = len(network.weights) - 1
    for index, (rows, biases) in enumerate(zip(network.weights, network.biases)):
        zs = weighted_sums(rows, biases, values[-1])
        if index < last:
            pre_activations.append(zs)
            values.append([activate(network.activation, z) for z in zs])
        else:
            values.append(output_activation(network.loss, zs))
    return values, pre_activations


def _output_delta(loss: str, outputs: list[float], label: int) -> list[float]:
    """Return dLoss/dz of the output layer for one sample (as `engine.reference.backprop`)."""
    targets = [1.0 if k == label else 0.0 for k in range(len(outputs))]
    if loss == "cross_entropy":
        return [p - y for p, y in zip(outputs, targets)]
    return [(a - y) * a * (1.0 - a) for a, y in zip(outputs, targets)]


def _products(vectors: list[list[float]]) -> list[list[float]]:
    """Return the dot products of every vector with every earlier one and itself (a triangle)."""
    return [
        [dot(vector, other) for other in vectors[: index + 1]]
        for index, vector in enumerate(vectors)
    ]


def _pairwise_sum(first: list[list[float]], second: list[list[float]]) -> float:
    """Return Σ_n Σ_m first[n][m] · second[n][m] over the full symmetric matrices."""
    total = 0.0
    for row_first, row_second in zip(first, second):
        diagonal = row_first[-1] * row_second[-1]
        total += 2.0 * sum(map(mul, row_first, row_second)) - diagonal
    return total
