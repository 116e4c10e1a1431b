"""A fully connected feed-forward network held in plain Python lists.

`Network` is the model every other part of Digits shares: the training loop updates it, model
files store it, the CLI and the app run it. Its `forward` is the readable reference forward pass
(the maths in plain loops); `engine.fast` derives a packed copy for speed and is tested against it.

Layout: `weights[layer][j][i]` is the weight from unit i of layer `layer` to unit j of layer
`layer + 1`; `biases[layer][j]` is the bias of that unit j. Hidden layers share one activation
(see `engine.activations`); the output layer is a softmax trained with cross-entropy, or
sigmoids trained with mean squared error (the classic textbook choice).
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter, mul

from engine.activations import ACTIVATIONS, activate, sigmoid

LOSSES = ("cross_entropy", "mse")
INPUT_SIZE = 784
OUTPUT_SIZE = 10


@dataclass
class Network:
    """Hold the architecture, parameters and training metadata of one network."""

    layer_sizes: list[int]
    activation: str
    loss: str
    weights: list[list[list[float]]]
    biases: list[list[float]]
    metadata: dict[str, object] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        layer_sizes: list[int],
        activation: str = "relu",
        loss: str = "cross_entropy",
        seed: int = 0,
    ) -> Network:
        """Return a new network with He (ReLU family) or Xavier (sigmoid, tanh) initial weights.

        Weights are drawn from a normal distribution seeded by `seed`; biases start at zero.
        """
        check_architecture(layer_sizes, activation, loss)
        rng = random.Random(seed)
        weights = []
        for fan_in, fan_out in zip(layer_sizes, layer_sizes[1:]):
            if activation in ("relu", "leaky_relu"):
                std = math.sqrt(2.0 / fan_in)
            else:
                std = math.sqrt(2.0 / (fan_in + fan_out))
            weights.append([[rng.gauss(0.0, std) for _ in range(fan_in)] for _ in range(fan_out)])
        biases = [[0.0] * size for size in layer_sizes[1:]]
        return cls(list(layer_sizes), activation, loss, weights, biases)

    @property
    def architecture(self) -> str:
        """Return the layer sizes as text, e.g. "784-128-10"."""
        return format_architecture(self.layer_sizes)

    def copy(self) -> Network:
        """Return an independent deep copy (weights, biases and metadata)."""
        return copy.deepcopy(self)

    def forward(self, inputs: list[float]) -> list[list[float]]:
        """Return the activations of every layer for one input vector (784 floats in [0, 1]).

        The first list is the input itself, the last the 10 output probabilities.
        """
        layers = [list(inputs)]
        last = len(self.weights) - 1
        for index, (rows, biases) in enumerate(zip(self.weights, self.biases)):
            pre_activations = weighted_sums(rows, biases, layers[-1])
            if index < last:
                layers.append([activate(self.activation, z) for z in pre_activations])
            else:
                layers.append(output_activation(self.loss, pre_activations))
        return layers

    def predict(self, inputs: list[float]) -> list[float]:
        """Return the 10 output probabilities for one input vector (784 floats in [0, 1])."""
        return self.forward(inputs)[-1]


def weighted_sums(rows: list[list[float]], biases: list[float], inputs: list[float]) -> list[float]:
    """Return bias_j + Σ_i rows[j][i] · inputs[i] for every unit j.

    Only the non-zero inputs are visited: most pixels of a digit, and many ReLU outputs, are
    zero, so skipping them makes the drawing canvas's live prediction several times faster.
    """
    active = [i for i, value in enumerate(inputs) if value]
    if len(active) < 2:
        return [bias + dot(row, inputs) for row, bias in zip(rows, biases)]
    pick = itemgetter(*active)
    values = pick(inputs)
    return [bias + dot(pick(row), values) for row, bias in zip(rows, biases)]


def _sum_of_products(first: Sequence[float], second: Sequence[float]) -> float:
    """Return Σ first[i] · second[i] (the fallback for Pythons before 3.12)."""
    return sum(map(mul, first, second))


# math.sumprod (Python 3.12+) is about 2.5 times faster than summing a map of products.
dot: Callable[[Sequence[float], Sequence[float]], float] = getattr(
    math, "sumprod", _sum_of_products
)


def output_activation(loss: str, pre_activations: list[float]) -> list[float]:
    """Return the output layer's values: softmax for cross-entropy, sigmoids for MSE."""
    if loss == "cross_entropy":
        return softmax(pre_activations)
    return [sigmoid(z) for z in pre_activations]


def softmax(values: list[float]) -> list[float]:
    """Return exp(v) / sum(exp(v)), shifted by the maximum so no exp overflows."""
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def normalise_probabilities(outputs: list[float]) -> list[float]:
    """Return outputs scaled to sum to 1 (MSE sigmoid outputs need not sum to 1)."""
    total = sum(outputs)
    if total <= 0.0:
        return [1.0 / len(outputs)] * len(outputs)
    return [value / total for value in outputs]


def parse_architecture(text: str) -> list[int]:
    """Return the layer sizes of an architecture written like "784-128-10"."""
    try:
        sizes = [int(part) for part in text.strip().split("-")]
    except ValueError:
        raise ValueError(
            f"architecture {text!r} must be sizes joined by '-', e.g. 784-128-10"
        ) from None
    check_architecture(sizes, "relu", "cross_entropy")
    return sizes


def format_architecture(layer_sizes: list[int]) -> str:
    """Return layer sizes joined by '-', e.g. [784, 128, 10] -> "784-128-10"."""
    return "-".join(str(size) for size in layer_sizes)


def check_architecture(layer_sizes: list[int], activation: str, loss: str) -> None:
    """Raise ValueError unless the sizes, activation and loss describe a usable MNIST network."""
    if len(layer_sizes) < 2:
        raise ValueError("a network needs at least an input and an output layer")
    if layer_sizes[0] != INPUT_SIZE or layer_sizes[-1] != OUTPUT_SIZE:
        raise ValueError(
            f"architecture must start with {INPUT_SIZE} inputs and end with {OUTPUT_SIZE} outputs,"
            f" got {format_architecture(layer_sizes)}"
        )
    if any(size < 1 or size > 4096 for size in layer_sizes):
        raise ValueError("every layer needs between 1 and 4096 units")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
