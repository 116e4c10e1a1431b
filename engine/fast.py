"""The fast training and inference path: the reference maths in packed fixed-point integers.

Per layer, the weights leaving input unit i are packed into one int (`engine.lanes`), one lane
per output unit, in fixed point. Then
  - forward: the pre-activations of a whole layer are Σ_i a_i · row_i over the inputs that are
    not zero (most MNIST pixels are). Pixels are quantised to `INPUT_LEVELS` levels and grouped
    by level, so the first layer costs one big-integer addition per inked pixel; ReLU, its
    derivative mask and the rescaling between layers are done on all lanes at once;
  - backward: the weight gradient of row i is a_i · δ, so each inked pixel costs one more
    addition of the packed error δ, straight into row i's velocity (decayed by the momentum at
    the start of the batch); δ reaches a hidden layer through a transposed packing of the
    weights above it, rebuilt once per batch;
  - rounding to fixed point is stochastic (dithered), so it adds noise but no bias.
Weight decay multiplies a whole layer by a float `scale` instead of touching every lane; momentum
scales lanes with `LaneCodec.scale`. The arithmetic is the update rule of `engine.reference`, up
to fixed-point rounding and the input quantisation; tests hold the two together.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from math import floor
from operator import add, mul

from engine.lanes import LaneCodec, LaneOverflow
from engine.network import Network, softmax

INPUT_LEVELS = 4
# The first layer does most of the work, so it gets narrow lanes (cheaper big-int additions)
# and fewer fractional bits; dithered rounding keeps its small weight updates unbiased.
FIRST_LANE_BITS = 32
FIRST_WEIGHT_BITS = 16
LANE_BITS = 64
WEIGHT_BITS = 28
ACTIVATION_BITS = 12
ACTIVATION_UNIT = float(1 << ACTIVATION_BITS)
# Fractional bits of the transposed weights used to backpropagate, by lane width.
TRANSPOSED_BITS = {32: 14, 64: 28}
# Bits left free below a lane's sign when sizing the backpropagated sums.
LANE_MARGIN_BITS = 3
RENORMALISE_BELOW = 0.5
RANGE_CHECK_EVERY = 50
MAX_FIRST_LAYER_INPUT = INPUT_LEVELS * 784
DITHER_TABLE_SIZE = 4096
MIN_PROBABILITY = 1e-12
LEAKY_SLOPE = 0.01
SIGMOID_CLAMP = 700.0

LEVEL_OF_PIXEL = bytes((value * INPUT_LEVELS + 127) // 255 for value in range(256))
LEVEL_MASKS = tuple(
    bytes(1 if value == level else 0 for value in range(256)) for level in range(INPUT_LEVELS + 1)
)
POSITIONS = tuple(range(4096))

SparseImage = tuple[tuple[int, tuple[int, ...]], ...]
# Per layer: the packed rows and the biases (see `FastNetwork.parameters`).
Parameters = list[tuple[list[int], list[float]]]


class Diverged(ArithmeticError):
    """Raised when training produces a non-finite loss or overflows its fixed-point lanes."""


def sparse_image(pixels: bytes) -> SparseImage:
    """Return the inked pixels of a 784-byte image grouped by quantised level.

    The result is ((level, pixel indices), ...) for levels 1..INPUT_LEVELS that occur; the
    network sees pixel value level / INPUT_LEVELS.
    """
    levels = pixels.translate(LEVEL_OF_PIXEL)
    inked = tuple(compress(POSITIONS, levels))
    inked_levels = bytes(map(levels.__getitem__, inked))
    groups = []
    for level in range(1, INPUT_LEVELS + 1):
        marks = inked_levels.translate(LEVEL_MASKS[level])
        if any(marks):
            groups.append((level, tuple(compress(inked, marks))))
    return tuple(groups)


def quantised_inputs(pixels: bytes) -> list[float]:
    """Return the 784 inputs in [0, 1] exactly as the fast path sees them (after quantisation)."""
    return [level / INPUT_LEVELS for level in pixels.translate(LEVEL_OF_PIXEL)]


@dataclass
class _Hidden:
    """Hold one hidden layer's output for one sample, as the next layer consumes it.

    `positions` are the units passed on and `values` their activations in the next layer's
    input units. ReLU layers carry `mask`, a packed all-ones mask of their active lanes; other
    activations carry `derivatives`, da/dz of every unit.
    """

    positions: tuple[int, ...]
    values: list[int]
    mask: int | None
    derivatives: list[float] | None


@dataclass
class _Layer:
    """One dense layer in packed form.

    Row i holds w[j][i] · weight_unit / scale in lane j. A forward sum holds z · sum_unit,
    where sum_unit = weight_unit · input_scale / scale and input_scale is what an input of 1.0
    is worth as an integer.
    """

    rows: list[int]
    biases: list[float]
    scale: float
    weight_unit: float
    codec: LaneCodec
    input_scale: float = 1.0
    activation_shift: int = 0
    packed_biases: int = 0
    transposed: tuple[int, ...] = ()
    transposed_max: int = 1
    bias_gradients: list[float] | None = None
    packed_bias_gradients: int = 0
    velocity: list[int] | None = None
    bias_velocity: list[float] | None = None

    @property
    def sum_unit(self) -> float:
        """Return what a pre-activation of 1.0 is worth in this layer's forward-sum lanes."""
        return self.weight_unit * self.input_scale / self.scale


class FastNetwork:
    """Train and run a `Network` in packed fixed-point form; convert back with `to_network`."""

    def __init__(self, network: Network, seed: int = 0) -> None:
        self.layer_sizes = list(network.layer_sizes)
        self.activation = network.activation
        self.loss = network.loss
        self.metadata = dict(network.metadata)
        self._random = random.Random(seed)
        self._dither = [self._random.random() for _ in range(2 * DITHER_TABLE_SIZE)]
        self._learning_rate_before: float | None = None
        self._batches = 0
        self.layers: list[_Layer] = []
        for index, (weights, biases) in enumerate(zip(network.weights, network.biases)):
            first = index == 0
            fan_out, fan_in = len(weights), len(weights[0])
            layer = _Layer(
                rows=[],
                biases=list(biases),
                scale=1.0,
                weight_unit=float(1 << (FIRST_WEIGHT_BITS if first else WEIGHT_BITS)),
                codec=LaneCodec(fan_out, FIRST_LANE_BITS if first else LANE_BITS),
                bias_gradients=[0.0] * fan_out,
                velocity=[0] * fan_in,
                bias_velocity=[0.0] * fan_out,
            )
            self._set_weights(layer, weights)
            self.layers.append(layer)
        self._refresh_units()

    # ----- conversion -------------------------------------------------------------------------

    def _set_weights(self, layer: _Layer, weights: list[list[float]]) -> None:
        factor = layer.weight_unit / layer.scale
        layer.rows = [
            layer.codec.pack([round(w * factor) for w in column]) for column in zip(*weights)
        ]

    def weights(self, layer_index: int) -> list[list[float]]:
        """Return the float weights of one layer as `weights[j][i]` (fan_out × fan_in)."""
        layer = self.layers[layer_index]
        factor = layer.scale / layer.weight_unit
        values = [value * factor for value in layer.codec.unpack_rows(layer.rows)]
        count = layer.codec.count
        return [values[unit::count] for unit in range(count)]

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

    def parameters(self) -> Parameters:
        """Return every layer's packed rows and biases, the state workers average.

        A layer whose weight-decay scale is not 1 has it folded into its lanes first, so that
        equal lanes mean equal weights in every copy of the network.
        """
        for layer in self.layers:
            if layer.scale != 1.0:
                self._renormalise(layer)
        return [(list(layer.rows), list(layer.biases)) for layer in self.layers]

    def set_mean(
        self, states: list[Parameters], weights: list[int], random_bits: Callable[[int], int]
    ) -> None:
        """Set every layer to the weighted mean of `states` (from `parameters`), lane by lane.

        `weights` are small positive ints that sum to a power of two, so the mean is one sum
        of packed rows and one dithered shift (`LaneCodec.shift`, unbiased); `random_bits`
        draws the dither, so networks given the same states and source end up identical.
        Biases are averaged with `math.fsum`, which does not depend on the order of workers.
        Velocities (momentum) stay this network's own.
        """
        total = sum(weights)
        shift = total.bit_length() - 1
        if total != 1 << shift:
            raise ValueError(f"weights must sum to a power of two, not {total}")
        for index, layer in enumerate(self.layers):
            codec = layer.codec
            weighted = [
                rows if weight == 1 else [row * weight for row in rows]
                for weight, rows in zip(weights, (state[index][0] for state in states))
            ]
            dither = codec.random_bits(shift, random_bits)
            layer.rows = [codec.shift(sum(column), shift, -1, dither) for column in zip(*weighted)]
            layer.scale = 1.0
            bias_columns = zip(*(state[index][1] for state in states))
            layer.biases = [math.fsum(map(mul, weights, column)) / total for column in bias_columns]
        self._refresh_units()

    def _refresh_units(self) -> None:
        """Recompute each layer's input unit, ReLU rescaling shift and packed biases."""
        input_scale = float(INPUT_LEVELS)
        for layer in self.layers:
            layer.input_scale = input_scale
            sum_unit = layer.sum_unit
            layer.packed_biases = layer.codec.pack([round(b * sum_unit) for b in layer.biases])
            if self.activation == "relu":
                # Shift ReLU outputs down to about ACTIVATION_BITS fractional bits, so that the
                # next layer's products keep clear of its lane limit.
                layer.activation_shift = max(0, math.frexp(sum_unit)[1] - 1 - ACTIVATION_BITS)
                input_scale = sum_unit / (1 << layer.activation_shift)
            else:
                input_scale = ACTIVATION_UNIT

    def fits_every_image(self) -> bool:
        """Return True if no 784-byte image can push a forward sum out of its lanes' range.

        Bounds each unit's pre-activation over every possible input with the packed integers
        themselves, layer after layer: |bias| + Σ |weight| · largest input, the largest input
        being the top pixel level for the first layer and the largest activation the bound
        allows for the others. A network read from a file may have weights far larger than
        training makes; when this is False, inference must not use the fast path.
        """
        largest_inputs = [INPUT_LEVELS] * self.layer_sizes[0]
        try:
            for layer in self.layers:
                codec = layer.codec
                weights = codec.unpack_rows(layer.rows)
                bounds = [abs(bias) for bias in codec.unpack(layer.packed_biases)]
                for unit, largest in enumerate(largest_inputs):
                    row = weights[unit * codec.count : (unit + 1) * codec.count]
                    bounds = [bound + abs(weight) * largest for bound, weight in zip(bounds, row)]
                if max(bounds) >= codec.limit:
                    return False
                largest_inputs = [self._largest_activation(layer, bound) for bound in bounds]
        except LaneOverflow:
            return False
        return True

    def _largest_activation(self, layer: _Layer, bound: int) -> int:
        """Return the largest activation value passed on by a unit whose sum is within ±bound."""
        if self.activation == "relu":
            return (bound >> layer.activation_shift) + 1
        if self.activation == "leaky_relu":
            return math.ceil(bound / layer.sum_unit * ACTIVATION_UNIT) + 1
        return int(ACTIVATION_UNIT)  # sigmoid and tanh stay within [-1, 1]

    # ----- forward ----------------------------------------------------------------------------

    def _activate(self, layer: _Layer, total: int) -> _Hidden:
        """Return a hidden layer's activations from its packed forward sum."""
        codec = layer.codec
        if self.activation == "relu":
            mask = codec.sign_mask(total)
            lanes = codec.unpack(codec.shift(total, layer.activation_shift, mask))
            return _Hidden(
                tuple(compress(POSITIONS, lanes)), list(compress(lanes, lanes)), mask, None
            )
        unit = 1.0 / layer.sum_unit
        zs = [lane * unit for lane in codec.unpack(total)]
        if self.activation == "leaky_relu":
            activations = [z if z > 0.0 else LEAKY_SLOPE * z for z in zs]
            derivatives = [1.0 if z > 0.0 else LEAKY_SLOPE for z in zs]
        elif self.activation == "tanh":
            activations = list(map(math.tanh, zs))
            derivatives = [1.0 - a * a for a in activations]
        else:
            activations = _sigmoids(zs)
            derivatives = [a * (1.0 - a) for a in activations]
        values = [round(a * ACTIVATION_UNIT) for a in activations]
        return _Hidden(POSITIONS[: len(zs)], values, None, derivatives)

    def _forward(self, image: SparseImage) -> tuple[list[_Hidden], list[float]]:
        """Return the hidden layers' activations and the output pre-activations for one image."""
        layer = self.layers[0]
        rows = layer.rows.__getitem__
        total = layer.packed_biases
        for level, positions in image:
            group = sum(map(rows, positions))
            total += group if level == 1 else level * group
        hidden: list[_Hidden] = []
        for following in self.layers[1:]:
            state = self._activate(layer, total)
            hidden.append(state)
            rows = following.rows.__getitem__
            total = sum(map(mul, state.values, map(rows, state.positions)), following.packed_biases)
            layer = following
        unit = 1.0 / layer.sum_unit
        return hidden, [lane * unit for lane in layer.codec.unpack(total)]

    def _outputs(self, zs: list[float]) -> list[float]:
        return softmax(zs) if self.loss == "cross_entropy" else _sigmoids(zs)

    def predict_sparse(self, image: SparseImage) -> list[float]:
        """Return the 10 output values for one image already converted by `sparse_image`."""
        return self._outputs(self._forward(image)[1])

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

    def _prepare_transposed(self) -> None:
        """Pack each upper layer's weights by output unit, in the lanes of the layer below."""
        for below, layer in zip(self.layers, self.layers[1:]):
            fraction_bits = TRANSPOSED_BITS[below.codec.bits]
            factor = (1 << fraction_bits) * layer.scale / layer.weight_unit
            values = layer.codec.unpack_rows(layer.rows)
            count = layer.codec.count
            layer.transposed = tuple(
                below.codec.pack([round(value * factor) for value in values[unit::count]])
                for unit in range(count)
            )
            layer.transposed_max = max(1, round(max(max(values), -min(values)) * factor))

    def _dithered(self, values: list[float], factor: float) -> list[int]:
        """Return ⌊v · factor + u⌋ for each value, u uniform in [0, 1): unbiased rounding."""
        start = self._random.randrange(DITHER_TABLE_SIZE)
        dither = self._dither[start : start + len(values)]
        return [floor(value * factor + u) for value, u in zip(values, dither)]

    def _backpropagate(
        self, layer: _Layer, below: _Layer, state: _Hidden, delta: list[float], below_factor: float
    ) -> int:
        """Return the packed, scaled error of the layer below: lanes ≈ δ_below · below_factor."""
        largest = max(map(abs, delta))
        if largest == 0.0:
            return 0
        codec = below.codec
        # Choose the error's fixed-point precision so the backpropagated sum fits its lanes.
        room = (1 << (codec.bits - LANE_MARGIN_BITS)) / (
            len(delta) * largest * below_factor * layer.transposed_max
        )
        fraction_bits = TRANSPOSED_BITS[codec.bits]
        extra_bits = min(math.frexp(room)[1] - 1, codec.bits - LANE_MARGIN_BITS - fraction_bits)
        shift = extra_bits + fraction_bits
        factor = below_factor * 2.0**extra_bits
        quantised = [round(d * factor) for d in delta]
        back = sum(map(mul, quantised, layer.transposed))
        if state.mask is not None:
            dither = codec.random_bits(shift, self._random.getrandbits)
            return codec.shift(back, shift, state.mask, dither)
        unit = 2.0**-shift
        errors = [lane * unit * d for lane, d in zip(codec.unpack(back), state.derivatives)]
        return codec.pack(self._dithered(errors, 1.0))

    def _train_batch(
        self,
        batch: list[tuple[SparseImage, int]],
        learning_rate: float,
        momentum: float,
        weight_decay: float,
    ) -> tuple[float, int]:
        decay = 1.0 - learning_rate * weight_decay
        step = learning_rate / len(batch)
        self._prepare_transposed()
        new_scales = [layer.scale * decay for layer in self.layers]
        delta_factors = [
            step * layer.weight_unit / (new_scale * layer.input_scale)
            for layer, new_scale in zip(self.layers, new_scales)
        ]
        # This batch's steps add straight into the decayed velocities (v ← μ·v + step).
        self._decay_velocities(learning_rate, momentum, new_scales)
        last = len(self.layers) - 1
        output = self.layers[last]
        loss_sum = 0.0
        correct = 0
        for image, label in batch:
            hidden, zs = self._forward(image)
            outputs = self._outputs(zs)
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
            output.bias_gradients = list(map(add, output.bias_gradients, delta))
            packed_delta = output.codec.pack(self._dithered(delta, delta_factors[last]))
            for index in range(last, 0, -1):
                layer, below, state = self.layers[index], self.layers[index - 1], hidden[index - 1]
                velocity = layer.velocity
                for position, value in zip(state.positions, state.values):
                    velocity[position] += value * packed_delta
                packed_delta = self._backpropagate(
                    layer, below, state, delta, delta_factors[index - 1]
                )
                below.packed_bias_gradients += packed_delta
                if index > 1:
                    scale = 1.0 / delta_factors[index - 1]
                    delta = [lane * scale for lane in below.codec.unpack(packed_delta)]
            velocity = self.layers[0].velocity
            for level, positions in image:
                step_row = packed_delta if level == 1 else level * packed_delta
                for position in positions:
                    velocity[position] += step_row
        if not math.isfinite(loss_sum):
            raise Diverged(f"training diverged: the loss became {loss_sum}")
        self._apply(len(batch), learning_rate, momentum, new_scales, delta_factors)
        return loss_sum, correct

    def _decay_velocities(
        self, learning_rate: float, momentum: float, new_scales: list[float]
    ) -> None:
        """Multiply every velocity by the momentum, or clear it when there is none."""
        previous_rate = self._learning_rate_before or learning_rate
        self._learning_rate_before = learning_rate
        for layer, new_scale in zip(self.layers, new_scales):
            if not momentum:
                layer.velocity = [0] * len(layer.rows)
                continue
            # The velocity is stored as a step in lane units; rescale it for the new learning
            # rate and layer scale before this batch's step is added.
            multiplier = momentum * (learning_rate / previous_rate) * (layer.scale / new_scale)
            # One dither per batch and layer: unbiased over batches, and cheap.
            dither = layer.codec.scale_dither(self._random.getrandbits)
            layer.velocity = layer.codec.scale(layer.velocity, multiplier, dither)

    def _apply(
        self,
        batch_size: int,
        learning_rate: float,
        momentum: float,
        new_scales: list[float],
        delta_factors: list[float],
    ) -> None:
        last = len(self.layers) - 1
        for index, (layer, new_scale) in enumerate(zip(self.layers, new_scales)):
            if index < last:
                unit = 1.0 / (delta_factors[index] * batch_size)
                packed = layer.codec.unpack(layer.packed_bias_gradients)
                mean_bias_gradients = [g * unit for g in packed]
                layer.packed_bias_gradients = 0
            else:
                mean_bias_gradients = [g / batch_size for g in layer.bias_gradients]
                layer.bias_gradients = [0.0] * len(layer.biases)
            layer.bias_velocity = [
                momentum * v + g for v, g in zip(layer.bias_velocity, mean_bias_gradients)
            ]
            layer.rows = list(map(_subtract, layer.rows, layer.velocity))
            layer.biases = [
                b - learning_rate * s for b, s in zip(layer.biases, layer.bias_velocity)
            ]
            layer.scale = new_scale
            if layer.scale < RENORMALISE_BELOW:
                self._renormalise(layer)
        self._batches += 1
        if self._batches % RANGE_CHECK_EVERY == 0:
            self._check_range()
        self._refresh_units()

    def _check_range(self) -> None:
        """Raise LaneOverflow if first-layer weights grew beyond what a full image can sum."""
        first = self.layers[0]
        limit = first.codec.limit // MAX_FIRST_LAYER_INPUT
        lanes = first.codec.unpack_rows(first.rows)
        if max(lanes) > limit or min(lanes) < -limit:
            raise LaneOverflow("first-layer weights grew beyond the fixed-point range")

    def _renormalise(self, layer: _Layer) -> None:
        """Fold the layer's scale back into its lanes so they keep their precision."""
        weights = self.weights(self.layers.index(layer))
        layer.velocity = [
            layer.codec.pack([round(value * layer.scale) for value in layer.codec.unpack(v)])
            for v in layer.velocity
        ]
        layer.scale = 1.0
        self._set_weights(layer, weights)


def _sigmoids(zs: list[float]) -> list[float]:
    """Return the logistic function of each z, clamping only when exp would overflow."""
    try:
        return [1.0 / (1.0 + math.exp(-z)) for z in zs]
    except OverflowError:
        return [1.0 / (1.0 + math.exp(-max(-SIGMOID_CLAMP, z))) for z in zs]


def _subtract(a: int, b: int) -> int:
    return a - b if b else a
