"""The fast training and inference path: the reference maths in packed fixed-point integers.

Per layer, the weights leaving input unit i are packed into one int (`engine.lanes`), one lane
per output unit, in fixed point with `WEIGHT_BITS` fractional bits. Then
  - forward: the pre-activations of a whole layer are Σ_i a_i · row_i over the inputs that are
    not zero (most MNIST pixels are). Pixels are quantised to `INPUT_LEVELS` levels and grouped
    by level, so layer 1 costs one big-integer addition per inked pixel;
  - backward: the weight gradient of row i is a_i · δ, so each inked pixel costs one more
    addition of the packed error δ into a gradient accumulator;
  - backpropagating δ to a hidden layer uses a transposed packing, rebuilt once per batch.
Weight decay multiplies a whole layer by a float `scale` instead of touching every lane; momentum
scales lanes with `LaneCodec.scale`. The arithmetic is the update rule of `engine.reference`,
up to fixed-point rounding and the input quantisation; the tests hold the two together.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from itertools import compress
from operator import add, mul

from engine.lanes import LaneCodec, LaneOverflow
from engine.network import Network, softmax

INPUT_LEVELS = 4
WEIGHT_BITS = 28
ACTIVATION_BITS = 12
DELTA_BITS = 20
RENORMALISE_BELOW = 0.5
MIN_PROBABILITY = 1e-12
LEAKY_SLOPE = 0.01
SIGMOID_CLAMP = 700.0

LEVEL_OF_PIXEL = bytes((value * INPUT_LEVELS + 127) // 255 for value in range(256))
PIXEL_POSITIONS = range(784)
LEVEL_MASKS = tuple(
    bytes(1 if value == level else 0 for value in range(256)) for level in range(INPUT_LEVELS + 1)
)

SparseImage = tuple[tuple[int, tuple[int, ...]], ...]


class Diverged(ArithmeticError):
    """Raised when training produces a non-finite loss or overflows its fixed-point lanes."""


def sparse_image(pixels: bytes) -> SparseImage:
    """Return the inked pixels of a 784-byte image grouped by quantised level.

    The result is ((level, pixel indices), ...) for levels 1..INPUT_LEVELS that occur; the
    network sees pixel value level / INPUT_LEVELS.
    """
    levels = pixels.translate(LEVEL_OF_PIXEL)
    groups = []
    for level in range(1, INPUT_LEVELS + 1):
        if bytes((level,)) in levels:
            marks = levels.translate(LEVEL_MASKS[level])
            groups.append((level, tuple(compress(PIXEL_POSITIONS, marks))))
    return tuple(groups)


def quantised_inputs(pixels: bytes) -> list[float]:
    """Return the 784 inputs in [0, 1] exactly as the fast path sees them (after quantisation)."""
    return [level / INPUT_LEVELS for level in pixels.translate(LEVEL_OF_PIXEL)]


@dataclass
class _Layer:
    """One dense layer in packed form; see the module docstring for the representation."""

    rows: list[int]
    biases: list[float]
    scale: float
    input_scale: float
    out_codec: LaneCodec
    in_codec: LaneCodec
    transposed: list[int]
    gradients: list[int]
    bias_gradients: list[float]
    velocity: list[int]
    bias_velocity: list[float]


class FastNetwork:
    """Train and run a `Network` in packed fixed-point form; convert back with `to_network`."""

    def __init__(self, network: Network) -> None:
        self.layer_sizes = list(network.layer_sizes)
        self.activation = network.activation
        self.loss = network.loss
        self.metadata = dict(network.metadata)
        self._learning_rate_before: float | None = None
        self.layers: list[_Layer] = []
        for index, (weights, biases) in enumerate(zip(network.weights, network.biases)):
            fan_out, fan_in = len(weights), len(weights[0])
            out_codec = LaneCodec(fan_out)
            input_scale = float(INPUT_LEVELS if index == 0 else 1 << ACTIVATION_BITS)
            layer = _Layer(
                rows=[],
                biases=list(biases),
                scale=1.0,
                input_scale=input_scale,
                out_codec=out_codec,
                in_codec=LaneCodec(fan_in),
                transposed=[],
                gradients=[0] * fan_in,
                bias_gradients=[0.0] * fan_out,
                velocity=[0] * fan_in,
                bias_velocity=[0.0] * fan_out,
            )
            self._set_weights(layer, weights)
            self.layers.append(layer)

    # ----- conversion -------------------------------------------------------------------------

    def _set_weights(self, layer: _Layer, weights: list[list[float]]) -> None:
        factor = (1 << WEIGHT_BITS) / layer.scale
        columns = zip(*weights)
        layer.rows = [
            layer.out_codec.pack([round(w * factor) for w in column]) for column in columns
        ]

    def weights(self, layer_index: int) -> list[list[float]]:
        """Return the float weights of one layer as `weights[j][i]` (fan_out × fan_in)."""
        layer = self.layers[layer_index]
        factor = layer.scale / (1 << WEIGHT_BITS)
        columns = [layer.out_codec.unpack(row) for row in layer.rows]
        return [[value * factor for value in row] for row in zip(*columns)]

    def to_network(self) -> Network:
        """Return the current parameters as a plain `Network` (a new object)."""
        return Network(
            layer_sizes=list(self.layer_sizes),
            activation=self.activation,
            loss=self.loss,
            weights=[self.weights(index) for index in range(len(self.layers))],
            biases=[list(layer.biases) for layer in self.layers],
            metadata=dict(self.metadata),
        )

    # ----- forward ----------------------------------------------------------------------------

    def _pre_activations(self, layer: _Layer, packed_sum: int) -> list[float]:
        factor = layer.scale / ((1 << WEIGHT_BITS) * layer.input_scale)
        lanes = layer.out_codec.unpack(packed_sum)
        return list(map(add, map(factor.__mul__, lanes), layer.biases))

    def _activate(self, zs: list[float]) -> list[float]:
        name = self.activation
        if name == "relu":
            return [z if z > 0.0 else 0.0 for z in zs]
        if name == "leaky_relu":
            return [z if z > 0.0 else LEAKY_SLOPE * z for z in zs]
        if name == "tanh":
            return list(map(math.tanh, zs))
        return [1.0 / (1.0 + math.exp(-max(-SIGMOID_CLAMP, min(SIGMOID_CLAMP, z)))) for z in zs]

    def _derivative(self, zs: list[float], activations: list[float]) -> list[float]:
        name = self.activation
        if name == "relu":
            return [1.0 if z > 0.0 else 0.0 for z in zs]
        if name == "leaky_relu":
            return [1.0 if z > 0.0 else LEAKY_SLOPE for z in zs]
        if name == "tanh":
            return [1.0 - a * a for a in activations]
        return [a * (1.0 - a) for a in activations]

    def _forward(self, image: SparseImage) -> tuple[list[list[float]], list[tuple]]:
        """Return pre-activations of every layer and the quantised inputs each layer saw."""
        first = self.layers[0]
        rows = first.rows.__getitem__
        total = 0
        for level, positions in image:
            group = sum(map(rows, positions))
            total += group if level == 1 else level * group
        zs_per_layer = [self._pre_activations(first, total)]
        inputs_per_layer: list[tuple] = [image]
        last = len(self.layers) - 1
        for index in range(1, last + 1):
            activations = self._activate(zs_per_layer[-1])
            quantised = list(map(round, map(float(1 << ACTIVATION_BITS).__mul__, activations)))
            active = [i for i, q in enumerate(quantised) if q]
            values = [quantised[i] for i in active]
            layer = self.layers[index]
            total = sum(map(mul, values, map(layer.rows.__getitem__, active)))
            inputs_per_layer.append((active, values, activations))
            zs_per_layer.append(self._pre_activations(layer, total))
        return zs_per_layer, inputs_per_layer

    def _outputs(self, zs: list[float]) -> list[float]:
        if self.loss == "cross_entropy":
            return softmax(zs)
        return self._activate_sigmoid(zs)

    @staticmethod
    def _activate_sigmoid(zs: list[float]) -> list[float]:
        return [1.0 / (1.0 + math.exp(-max(-SIGMOID_CLAMP, min(SIGMOID_CLAMP, z)))) for z in zs]

    def predict_sparse(self, image: SparseImage) -> list[float]:
        """Return the 10 output values for one image already converted by `sparse_image`."""
        zs_per_layer, _ = self._forward(image)
        return self._outputs(zs_per_layer[-1])

    def predict(self, pixels: bytes) -> list[float]:
        """Return the 10 output values for one 784-byte image (0..255, ink high)."""
        return self.predict_sparse(sparse_image(pixels))

    # ----- training ---------------------------------------------------------------------------

    def train_batch(
        self,
        batch: list[tuple[SparseImage, int]],
        learning_rate: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> tuple[float, int]:
        """Apply one SGD step on a mini-batch of (sparse image, label); return (loss sum, correct).

        Raises Diverged on a non-finite loss or a fixed-point overflow; the caller then restores
        its last good copy, because the parameters may be half updated.
        """
        try:
            return self._train_batch(batch, learning_rate, momentum, weight_decay)
        except (LaneOverflow, OverflowError, ValueError) as error:
            raise Diverged(f"training diverged: {error}") from None

    def _train_batch(
        self,
        batch: list[tuple[SparseImage, int]],
        learning_rate: float,
        momentum: float,
        weight_decay: float,
    ) -> tuple[float, int]:
        decay = 1.0 - learning_rate * weight_decay
        step = learning_rate / len(batch)
        for layer in self.layers[1:]:
            layer.transposed = [
                layer.in_codec.pack(list(column))
                for column in zip(*(layer.out_codec.unpack(row) for row in layer.rows))
            ]
        new_scales = [layer.scale * decay for layer in self.layers]
        delta_factors = [
            step * (1 << WEIGHT_BITS) / (new_scale * layer.input_scale)
            for layer, new_scale in zip(self.layers, new_scales)
        ]
        loss_sum = 0.0
        correct = 0
        last = len(self.layers) - 1
        for image, label in batch:
            zs_per_layer, inputs_per_layer = self._forward(image)
            outputs = self._outputs(zs_per_layer[-1])
            probability = outputs[label]
            if self.loss == "cross_entropy":
                loss_sum -= math.log(max(probability, MIN_PROBABILITY))
                delta = list(outputs)
                delta[label] -= 1.0
            else:
                targets = [0.0] * len(outputs)
                targets[label] = 1.0
                loss_sum += 0.5 * sum((a - y) ** 2 for a, y in zip(outputs, targets))
                delta = [(a - y) * a * (1.0 - a) for a, y in zip(outputs, targets)]
            if max(outputs) == probability:
                correct += 1
            for index in range(last, -1, -1):
                layer = self.layers[index]
                layer.bias_gradients = list(map(add, layer.bias_gradients, delta))
                packed_delta = layer.out_codec.pack(
                    list(map(round, map(delta_factors[index].__mul__, delta)))
                )
                gradients = layer.gradients
                read, write = gradients.__getitem__, gradients.__setitem__
                if index == 0:
                    for level, positions in inputs_per_layer[0]:
                        scaled = packed_delta if level == 1 else level * packed_delta
                        deque(map(write, positions, map(scaled.__add__, map(read, positions))), 0)
                    break
                active, values, activations = inputs_per_layer[index]
                deque(
                    map(
                        write,
                        active,
                        map(add, map(read, active), map(packed_delta.__mul__, values)),
                    ),
                    0,
                )
                delta = self._backpropagate(layer, delta, zs_per_layer[index - 1], activations)
        if not math.isfinite(loss_sum):
            raise Diverged(f"training diverged: the loss became {loss_sum}")
        self._apply(
            batch_size=len(batch),
            learning_rate=learning_rate,
            momentum=momentum,
            new_scales=new_scales,
        )
        return loss_sum, correct

    def _backpropagate(
        self, layer: _Layer, delta: list[float], zs: list[float], activations: list[float]
    ) -> list[float]:
        quantised = list(map(round, map(float(1 << DELTA_BITS).__mul__, delta)))
        total = sum(map(mul, quantised, layer.transposed))
        factor = layer.scale / ((1 << WEIGHT_BITS) * (1 << DELTA_BITS))
        back = map(factor.__mul__, layer.in_codec.unpack(total))
        return list(map(mul, back, self._derivative(zs, activations)))

    def _apply(
        self, batch_size: int, learning_rate: float, momentum: float, new_scales: list[float]
    ) -> None:
        previous_rate = self._learning_rate_before or learning_rate
        self._learning_rate_before = learning_rate
        step = learning_rate / batch_size
        for layer, new_scale in zip(self.layers, new_scales):
            mean_bias_gradients = [g / batch_size for g in layer.bias_gradients]
            if momentum:
                # The velocity is stored as a step in lane units; rescale it for the new
                # learning rate and layer scale before adding this batch's step.
                multiplier = momentum * (learning_rate / previous_rate) * (layer.scale / new_scale)
                codec = layer.out_codec
                # LaneCodec.scale keeps its headroom only below 2; a larger jump of the learning
                # rate scales in two steps, the second an exact integer multiple.
                whole = max(1, math.ceil(multiplier / 1.5))
                fraction = multiplier / whole
                layer.velocity = [
                    whole * codec.scale(v, fraction) + g if v else g
                    for v, g in zip(layer.velocity, layer.gradients)
                ]
                layer.rows = list(map(_subtract, layer.rows, layer.velocity))
                layer.bias_velocity = [
                    momentum * v + g for v, g in zip(layer.bias_velocity, mean_bias_gradients)
                ]
                layer.biases = [
                    b - learning_rate * v for b, v in zip(layer.biases, layer.bias_velocity)
                ]
            else:
                layer.rows = list(map(_subtract, layer.rows, layer.gradients))
                layer.biases = [b - step * g for b, g in zip(layer.biases, layer.bias_gradients)]
            layer.scale = new_scale
            layer.gradients = [0] * len(layer.rows)
            layer.bias_gradients = [0.0] * len(layer.biases)
            if layer.scale < RENORMALISE_BELOW:
                self._renormalise(layer)

    def _renormalise(self, layer: _Layer) -> None:
        """Fold the layer's scale back into its lanes so they keep their precision."""
        index = self.layers.index(layer)
        weights = self.weights(index)
        velocities = [layer.out_codec.unpack(v) for v in layer.velocity]
        layer.velocity = [
            layer.out_codec.pack([round(value * layer.scale) for value in lanes])
            for lanes in velocities
        ]
        layer.scale = 1.0
        self._set_weights(layer, weights)


def _subtract(a: int, b: int) -> int:
    return a - b if b else a
