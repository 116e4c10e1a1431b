"""The fast training and inference path: the reference maths in packed fixed-point integers.

Per layer, the weights leaving input unit i are packed into one int (`engine.lanes`), one lane
per output unit, in fixed point. Then
  - forward: the pre-activations of a whole layer are Σ_i a_i · row_i over the inputs that are
    not zero (most MNIST pixels are). Pixels are quantised to `INPUT_LEVELS` levels and grouped
    by level, so the first layer costs one big-integer addition per inked pixel; ReLU, its
    derivative mask and the rescaling between layers are done on all lanes at once;
  - backward: the weight gradient of row i is a_i · δ, so each inked pixel costs one more
    addition of the packed error δ; δ reaches a hidden layer through a transposed packing of
    the weights above it, rebuilt once per batch;
  - rounding to fixed point is stochastic (dithered), so it adds noise but no bias.

Two update rules, chosen by the momentum:
  - plain SGD (momentum 0, the default recipe): each sample's step, learning_rate / batch size
    times its gradient, is added straight into the packed weights as soon as it is computed, so
    later samples of the batch already see it; the transposed weights used to backpropagate
    are those of the batch's start, and biases move once a batch. No pass over all the rows;
  - momentum (μ > 0): steps add into velocity rows, which are decayed by μ at the start of a
    batch and subtracted from the weights at its end: exactly `reference.sgd_step`, at the
    cost of two passes over every row a batch.
Weight decay works with both: it multiplies a whole layer by a float `scale` instead of touching
every lane. Samples the network already reads right with p[label] above `skip_confidence` skip
the backward pass (after the first epoch most of MNIST does): they would barely move anything.

The first layer, where most of the work is, starts in 24-bit lanes (`NARROW_LANE_BITS`): 128 of
them fit a 384-byte int, every addition is cheaper, but a forward sum has range for |z| < 64
only. Every forward sum's lanes are checked, which catches a sum anywhere within 3× that range,
and every RANGE_CHECK_EVERY batches the largest sum any image of up to WORST_CASE_PIXELS inked
pixels could make is bounded from the weights, so that no sum gets further unseen. When a sum
leaves its range, or the bound does, the layer moves to 32-bit lanes for good (`widenings`
counts it) and the sample is computed again. 32-bit lanes hold any image's sum while every
weight is below 5.2 (checked with the bound), as in a healthy run; a run whose weights grow
beyond has diverged. Momentum runs on 32-bit lanes from the start (velocities need them). The
arithmetic is the update rule of `engine.reference`, up to fixed-point rounding and the input
quantisation; tests hold the two together.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from math import floor
from operator import add, is_not, lt, mul, sub
from typing import NamedTuple

from engine.lanes import LaneCodec, LaneOverflow
from engine.network import Network, softmax

INPUT_LEVELS = 4
# The first layer does most of the work, so it gets narrow lanes (cheaper big-int additions)
# and fewer fractional bits; dithered rounding keeps its small weight updates unbiased.
NARROW_LANE_BITS = 24
WIDE_LANE_BITS = 32
LANE_BITS = 64
FIRST_WEIGHT_BITS = {NARROW_LANE_BITS: 14, WIDE_LANE_BITS: 16}
WEIGHT_BITS = 28
ACTIVATION_BITS = 12
ACTIVATION_UNIT = float(1 << ACTIVATION_BITS)
# Fractional bits of the transposed weights used to backpropagate, by lane width.
TRANSPOSED_BITS = {NARROW_LANE_BITS: 10, WIDE_LANE_BITS: 14, LANE_BITS: 28}
# Bits left free below a lane's sign when sizing the backpropagated sums.
LANE_MARGIN_BITS = 3
RENORMALISE_BELOW = 0.5
RANGE_CHECK_EVERY = 50
# A forward sum is checked on every sample, which catches it anywhere within 3× its lanes'
# range; beyond that it could wrap unseen. So narrow lanes are kept only while the largest sum
# an image of up to WORST_CASE_PIXELS inked pixels could make stays within that: the most any
# MNIST digit has is 344.
WORST_CASE_PIXELS = 400
DETECTABLE_RANGES = 3
DITHER_TABLE_SIZE = 4096
# Random lanes for the backward pass's stochastic rounding are drawn once into a pool per
# shift and picked at random: drawing 3,072 fresh random bits for every sample costs more.
DITHER_POOL_SIZE = 256
MIN_PROBABILITY = 1e-12
LEAKY_SLOPE = 0.01
SIGMOID_CLAMP = 700.0
NEVER_SKIP = 1.0

LEVEL_OF_PIXEL = bytes((value * INPUT_LEVELS + 127) // 255 for value in range(256))
UNINKED_VALUES = bytes(value for value in range(256) if LEVEL_OF_PIXEL[value] == 0)
LEVEL_MASKS = tuple(
    bytes(1 if value == level else 0 for value in range(256)) for level in range(INPUT_LEVELS + 1)
)
POSITIONS = tuple(range(4096))

SparseImage = tuple[tuple[int, tuple[int, ...]], ...]
# Of one layer: the indices of the rows changed since the copies last met (increasing), those
# packed rows, every bias and the rows' lane width.
LayerChanges = tuple[list[int], list[int], list[float], int]


class Changes(NamedTuple):
    """What a copy of a network changed since the copies last met (see `FastNetwork.changes`).

    `restarted` is True for a copy rebuilt since from a checkpoint of its own.
    """

    layers: list[LayerChanges]
    restarted: bool


@dataclass(frozen=True)
class Snapshot:
    """A fast network's parameters at one moment (`FastNetwork.snapshot`), to go back to.

    It keeps the packed rows themselves (a step writes new ints, it never changes one), so
    taking one costs microseconds; the float `Network` is made by `to_network` only when it
    is needed, about 10 ms for 784-128-10. Per layer: the rows, the biases, the factor from
    lanes to weights (scale / weight_unit) and the rows' codec.
    """

    layer_sizes: tuple[int, ...]
    activation: str
    loss: str
    metadata: dict[str, object]
    layers: tuple[tuple[tuple[int, ...], tuple[float, ...], float, LaneCodec], ...]

    def to_network(self) -> Network:
        """Return the parameters as a plain `Network` (a new object)."""
        return Network(
            layer_sizes=list(self.layer_sizes),
            activation=self.activation,
            loss=self.loss,
            weights=[_float_weights(rows, factor, codec) for rows, _, factor, codec in self.layers],
            biases=[list(biases) for _, biases, _, _ in self.layers],
            metadata=dict(self.metadata),
        )


class Diverged(ArithmeticError):
    """Raised when training produces a non-finite loss or overflows its fixed-point lanes."""


class BatchFigures(NamedTuple):
    """What one mini-batch measured: summed loss, samples read right, backward passes skipped."""

    loss_sum: float
    correct: int
    skipped: int


def sparse_image(pixels: bytes) -> SparseImage:
    """Return the inked pixels of a 784-byte image grouped by quantised level.

    The result is ((level, pixel indices), ...) for levels 1..INPUT_LEVELS that occur; the
    network sees pixel value level / INPUT_LEVELS.
    """
    inked = tuple(compress(POSITIONS, pixels.translate(LEVEL_OF_PIXEL)))
    # Deleting the level-0 values while translating leaves the inked pixels' levels, in order.
    inked_levels = pixels.translate(LEVEL_OF_PIXEL, UNINKED_VALUES)
    groups = []
    for level in range(1, INPUT_LEVELS + 1):
        marks = inked_levels.translate(LEVEL_MASKS[level])
        if 1 in marks:
            groups.append((level, tuple(compress(inked, marks))))
    return tuple(groups)


def quantised_inputs(pixels: bytes) -> list[float]:
    """Return the 784 inputs in [0, 1] exactly as the fast path sees them (after quantisation)."""
    return [level / INPUT_LEVELS for level in pixels.translate(LEVEL_OF_PIXEL)]


@dataclass(slots=True)
class _Hidden:
    """Hold one hidden layer's output for one sample, as the next layer consumes it.

    `positions` are the units passed on and `values` their activations in the next layer's
    input units. ReLU layers carry `mask` (`LaneCodec.relu`'s mask of their active lanes);
    other activations carry `derivatives`, da/dz of every unit.
    """

    positions: tuple[int, ...]
    values: list[int]
    mask: int | None
    derivatives: list[float] | None


@dataclass(slots=True)
class _Layer:
    """One dense layer in packed form.

    Row i holds w[j][i] · weight_unit / scale in lane j. A forward sum holds z · sum_unit,
    where sum_unit = weight_unit · input_scale / scale and input_scale is what an input of 1.0
    is worth as an integer; a packed step δ of the rows moves the packed biases by
    δ · input_scale² (`bias_multiplier`). `velocity` rows exist only under momentum.
    """

    rows: list[int]
    biases: list[float]
    scale: float
    weight_unit: float
    codec: LaneCodec
    input_scale: float = 1.0
    sum_unit: float = 1.0
    bias_multiplier: int = 1
    activation_shift: int = 0
    packed_biases: int = 0
    transposed: tuple[int, ...] = ()
    transposed_max: int = 1
    packed_bias_gradients: int = 0
    velocity: list[int] | None = None
    bias_velocity: list[float] | None = None


class FastNetwork:
    """Train and run a `Network` in packed fixed-point form; convert back with `to_network`.

    `first_lane_bits` is the first layer's starting lane width (24, or 32 to never narrow).
    """

    def __init__(
        self, network: Network, seed: int = 0, first_lane_bits: int = NARROW_LANE_BITS
    ) -> None:
        if first_lane_bits not in FIRST_WEIGHT_BITS:
            raise ValueError(f"first-layer lanes are 24 or 32 bits, not {first_lane_bits}")
        self.layer_sizes = list(network.layer_sizes)
        self.activation = network.activation
        self.loss = network.loss
        self.metadata = dict(network.metadata)
        self.widenings = 0
        self._random = random.Random(seed)
        self._dither = [self._random.random() for _ in range(2 * DITHER_TABLE_SIZE)]
        self._dither_pools: dict[tuple[int, int, int], list[int]] = {}
        self._learning_rate_before: float | None = None
        self._batches = 0
        self.layers: list[_Layer] = []
        for index, (weights, biases) in enumerate(zip(network.weights, network.biases)):
            layer = _Layer(
                rows=[],
                biases=list(biases),
                scale=1.0,
                weight_unit=float(1 << WEIGHT_BITS),
                codec=LaneCodec(len(weights), LANE_BITS),
            )
            if index == 0:
                self._set_first_weights(layer, weights, first_lane_bits)
            else:
                self._set_weights(layer, weights)
            self.layers.append(layer)
        self._refresh_units()
        self._mark_met()

    # ----- conversion -------------------------------------------------------------------------

    def _set_weights(self, layer: _Layer, weights: list[list[float]]) -> None:
        factor = layer.weight_unit / layer.scale
        layer.rows = [
            layer.codec.pack([round(w * factor) for w in column]) for column in zip(*weights)
        ]

    def _set_first_weights(self, layer: _Layer, weights: list[list[float]], bits: int) -> None:
        """Pack the first layer in `bits`-bit lanes, or in wider ones if they could overflow."""
        layer.codec = LaneCodec(len(weights), bits)
        layer.weight_unit = float(1 << FIRST_WEIGHT_BITS[bits])
        try:
            self._set_weights(layer, weights)
            fits = bits != NARROW_LANE_BITS or self._narrow_lanes_hold(layer)
        except LaneOverflow:
            fits = False
        if not fits:
            if bits == WIDE_LANE_BITS:
                raise LaneOverflow("first-layer weights do not fit 32-bit lanes")
            self._set_first_weights(layer, weights, WIDE_LANE_BITS)
            self.widenings += 1

    def _worst_first_sum(self, layer: _Layer, pixels: int) -> float:
        """Return the largest |lane| a forward sum of `layer` over `pixels` inked pixels can reach.

        Raises LaneOverflow if a weight itself left its lane's range.
        """
        maxima = sorted(layer.codec.row_maxima(layer.rows))
        biggest_bias = max(map(abs, layer.biases)) * layer.weight_unit * INPUT_LEVELS / layer.scale
        return INPUT_LEVELS * sum(maxima[-pixels:]) + biggest_bias

    def _narrow_lanes_hold(self, layer: _Layer) -> bool:
        """Return whether every sum of an image of up to WORST_CASE_PIXELS pixels is checkable."""
        limit = DETECTABLE_RANGES * layer.codec.limit
        return self._worst_first_sum(layer, WORST_CASE_PIXELS) < limit

    def weights(self, layer_index: int) -> list[list[float]]:
        """Return the float weights of one layer as `weights[j][i]` (fan_out × fan_in)."""
        layer = self.layers[layer_index]
        return _float_weights(layer.rows, layer.scale / layer.weight_unit, layer.codec)

    def to_network(self) -> Network:
        """Return the current parameters as a plain `Network` (a new object)."""
        return self.snapshot().to_network()

    def snapshot(self) -> Snapshot:
        """Return the current parameters as a `Snapshot`: a checkpoint, taken in microseconds."""
        return Snapshot(
            tuple(self.layer_sizes),
            self.activation,
            self.loss,
            dict(self.metadata),
            tuple(
                (
                    tuple(layer.rows),
                    tuple(layer.biases),
                    layer.scale / layer.weight_unit,
                    layer.codec,
                )
                for layer in self.layers
            ),
        )

    def _mark_met(self) -> None:
        """Remember every layer's rows, lane width and biases as the point the copies met at."""
        self._restarted = False
        self._shown: Changes | None = None
        self._met = [
            (list(layer.rows), layer.codec.bits, list(layer.biases)) for layer in self.layers
        ]

    def continue_meetings_of(self, other: FastNetwork) -> None:
        """Count this copy's changes from where `other` last met its team.

        For a copy rebuilt mid-run (from a checkpoint, after a divergence): every row of it is
        new, so all of them count as changed, and the rows other copies left alone are still
        known as the team met them. Its changes say it `restarted`.
        """
        self._met = other._met
        self._restarted = True

    def changes(self) -> Changes:
        """Return every layer's rows changed since the copies last met, and all its biases.

        What workers send each other to merge (`merge`). A step writes new int objects
        into the rows it moves, so a row still the very object it was at the meeting is
        unchanged: plain SGD on sparse digits leaves about half of the first layer's rows
        alone between two meetings, and those are neither sent nor merged. A layer whose
        weight-decay scale is not 1 has it folded into its lanes first (every row changes), so
        that equal lanes mean equal weights in every copy of the network.
        """
        for layer in self.layers:
            if layer.scale != 1.0:
                self._renormalise(layer)
        layers: list[LayerChanges] = []
        for layer, (met_rows, _, _) in zip(self.layers, self._met):
            rows = layer.rows
            changed = list(compress(range(len(rows)), map(is_not, rows, met_rows)))
            layers.append(
                (changed, [rows[i] for i in changed], list(layer.biases), layer.codec.bits)
            )
        self._shown = Changes(layers, self._restarted)
        return self._shown

    def merge(self, states: list[Changes]) -> None:
        """Set every layer to the point the copies last met plus every copy's change since.

        Every copy must have met at the same point (the same network to start with, or the
        same `merge` since), so a row a copy did not change is the row they met with. A row
        one copy changed becomes that copy's row; a row several changed becomes the met row
        plus each one's difference from it. That is exact integer arithmetic on the packed
        rows, with no rounding, and the rows nobody changed cost nothing. Biases are floats:
        the changes are added in the order of `states`, which must be the same on every copy
        (the workers' order), so that every copy rounds alike and all end identical.
        Velocities (momentum) stay this network's own. When some copies' first layer has moved
        to wide lanes, every copy moves to them first. Raises ValueError if a state does not
        fit this network.

        A copy that `restarted` from a checkpoint after a divergence took back its own steps
        and the team's since: its change is a way back, not a step to add to the others'. So
        if any copy restarted, every copy becomes the first such copy (in the order of
        `states`), and the others' changes are dropped; two ways back added would overshoot.

        This copy's own rows already hold the changes its last `changes` returned (if it has
        not trained since): when that state is among `states`, the merge starts from them and
        adds only the others'.
        """
        self._check_changes(states)
        restarted = [state for state in states if state.restarted]
        if restarted:
            states = restarted[:1]
        own = next((state for state in states if state is self._shown), None)
        widest = max(state.layers[0][3] for state in states)
        while max(self._met[0][1], widest) > self.first_lane_bits:
            self._widen_first_layer()
        for index, (layer, (met_rows, met_bits, met_biases)) in enumerate(
            zip(self.layers, self._met)
        ):
            met = self._rows_in_lanes_of(layer, met_rows, met_bits)
            new_rows = list(met if own is None else layer.rows)
            for state in states:
                if state is own:
                    continue
                indices, rows, _, bits = state.layers[index]
                for i, row in zip(indices, self._rows_in_lanes_of(layer, rows, bits)):
                    current = new_rows[i]
                    # A row still as met takes the change; one already changed adds it.
                    new_rows[i] = row if current is met[i] else current + row - met[i]
            layer.rows = new_rows
            layer.scale = 1.0
            biases = met_biases
            for state in states:
                biases = list(map(add, biases, map(sub, state.layers[index][2], met_biases)))
            layer.biases = biases
        self._refresh_units()
        self._mark_met()

    def _check_changes(self, states: list[Changes]) -> None:
        """Raise ValueError unless every state has this network's layers, units and rows."""
        for state in states:
            if len(state.layers) != len(self.layers):
                raise ValueError("a state to merge does not have this network's layers")
            for layer, (indices, rows, biases, bits) in zip(self.layers, state.layers):
                wide_enough = bits == layer.codec.bits or (
                    layer is self.layers[0] and bits in FIRST_WEIGHT_BITS
                )
                if (
                    not wide_enough
                    or len(biases) != layer.codec.count
                    or len(rows) != len(indices)
                    or (indices and not 0 <= indices[0] <= indices[-1] < len(layer.rows))
                    or not all(map(lt, indices, indices[1:]))
                ):
                    raise ValueError("a state to merge does not fit this network's layers")

    @staticmethod
    def _rows_in_lanes_of(layer: _Layer, rows: list[int], bits: int) -> list[int]:
        """Return packed rows of `bits`-bit lanes in the lanes of `layer` (the same if equal)."""
        if bits == layer.codec.bits:
            return rows
        ratio = 1 << (FIRST_WEIGHT_BITS[layer.codec.bits] - FIRST_WEIGHT_BITS[bits])
        values = LaneCodec(layer.codec.count, bits).unpack_rows(rows)
        count, pack = layer.codec.count, layer.codec.pack
        return [
            pack([ratio * value for value in values[start : start + count]])
            for start in range(0, len(values), count)
        ]

    @property
    def first_lane_bits(self) -> int:
        """Return the width of the first layer's lanes now (24 until a sum overflowed them)."""
        return self.layers[0].codec.bits

    def _refresh_units(self) -> None:
        """Recompute each layer's input unit, ReLU rescaling shift and packed biases."""
        input_scale = float(INPUT_LEVELS)
        for layer in self.layers:
            layer.input_scale = input_scale
            layer.bias_multiplier = round(input_scale * input_scale)
            layer.sum_unit = sum_unit = layer.weight_unit * input_scale / layer.scale
            layer.packed_biases = layer.codec.pack([round(b * sum_unit) for b in layer.biases])
            if self.activation == "relu":
                # Shift ReLU outputs down to about ACTIVATION_BITS fractional bits, so that the
                # next layer's products keep clear of its lane limit, and far enough that
                # narrow lanes are read with one struct call.
                layer.activation_shift = max(
                    math.frexp(sum_unit)[1] - 1 - ACTIVATION_BITS, layer.codec.min_relu_shift
                )
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
        if self.first_lane_bits == NARROW_LANE_BITS:
            # A sum that leaves narrow lanes moves the layer to wide ones (see the module
            # docstring): what matters is whether those hold every image.
            try:
                wide = FastNetwork(self.to_network(), first_lane_bits=WIDE_LANE_BITS)
            except LaneOverflow:
                return False
            return wide.fits_every_image()
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

    def _widen_first_layer(self) -> bool:
        """Move the first layer to 32-bit lanes; return False if it already has them.

        Raises LaneOverflow if its weights themselves no longer fit. Called between samples:
        the batch's packed bias gradients move along; there is never a velocity to move,
        because momentum runs on wide lanes from its first batch.
        """
        first = self.layers[0]
        old_bits = first.codec.bits
        if old_bits == WIDE_LANE_BITS:
            return False
        weights = self.weights(0)
        # Every layer's units change (the ReLU shift and the inputs above with it), so plain
        # SGD's biases moved in this batch are read back before they are packed again.
        for layer in self.layers:
            self._read_biases(layer)
        gradients = first.codec.unpack(first.packed_bias_gradients)
        self._set_first_weights(first, weights, WIDE_LANE_BITS)
        ratio = 1 << (FIRST_WEIGHT_BITS[WIDE_LANE_BITS] - FIRST_WEIGHT_BITS[old_bits])
        first.packed_bias_gradients = first.codec.pack([ratio * g for g in gradients])
        self.widenings += 1
        self._refresh_units()
        return True

    def _read_biases(self, layer: _Layer) -> None:
        """Set the float biases from the packed ones, which plain SGD moves sample by sample."""
        unit = 1.0 / layer.sum_unit
        layer.biases = [lane * unit for lane in layer.codec.unpack(layer.packed_biases)]

    # ----- forward ----------------------------------------------------------------------------

    def _activate(self, layer: _Layer, total: int) -> _Hidden:
        """Return a hidden layer's activations from its packed forward sum."""
        codec = layer.codec
        if self.activation == "relu":
            mask, lanes = codec.relu(total, layer.activation_shift, codec.bits == NARROW_LANE_BITS)
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
        """Return the hidden layers' activations and the output pre-activations for one image.

        When a first-layer sum leaves its narrow lanes, widen them and compute it again; an
        image with more ink than narrow lanes are checked for widens them first.
        """
        if (
            self.layers[0].codec.bits == NARROW_LANE_BITS
            and sum([len(positions) for _, positions in image]) > WORST_CASE_PIXELS
        ):
            self._widen_first_layer()
        try:
            return self._forward_packed(image)
        except LaneOverflow:
            if not self._widen_first_layer():
                raise
            return self._forward_packed(image)

    def _forward_packed(self, image: SparseImage) -> tuple[list[_Hidden], list[float]]:
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

    def forward(self, pixels: bytes) -> list[list[float]]:
        """Return every layer's activations for one 784-byte image, as `Network.forward` does.

        The first list is the 784 inputs as this path sees them (`quantised_inputs`), then
        each hidden layer's activations (one float per unit), then the 10 outputs.
        """
        hidden, zs = self._forward(sparse_image(pixels))
        layers = [quantised_inputs(pixels)]
        for state, following in zip(hidden, self.layers[1:]):
            # A hidden layer's values are in the next layer's input units.
            unit = 1.0 / following.input_scale
            activations = [0.0] * len(following.rows)
            for position, value in zip(state.positions, state.values):
                activations[position] = value * unit
            layers.append(activations)
        layers.append(self._outputs(zs))
        return layers

    # ----- training ---------------------------------------------------------------------------

    def train_batch(
        self,
        batch: list[tuple[SparseImage, int]],
        learning_rate: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        skip_confidence: float = NEVER_SKIP,
    ) -> BatchFigures:
        """Apply one SGD step on a mini-batch of (sparse image, label); return its figures.

        Momentum 0 writes each sample's step straight into the weights; momentum > 0 applies
        the batch's mean gradient through the velocity at the end (see the module docstring).
        A sample read right with p[label] > skip_confidence (0 < skip_confidence ≤ 1; 1 never
        skips) counts for the loss and accuracy but has no backward pass.
        Raises Diverged on a non-finite loss or a fixed-point overflow; the caller then restores
        its last good copy, because the parameters may be half updated.
        """
        try:
            return self._train_batch(batch, learning_rate, momentum, weight_decay, skip_confidence)
        except (LaneOverflow, OverflowError, ValueError) as error:
            raise Diverged(f"training diverged: {error}") from None

    def _prepare_transposed(self) -> None:
        """Pack each upper layer's weights by output unit, in the lanes of the layer below.

        The transposed lanes are the rows' lanes brought to TRANSPOSED_BITS fractional bits;
        the layer's scale is left out, and `_backpropagate` applies it to the error instead.
        """
        for below, layer in zip(self.layers, self.layers[1:]):
            # Upper layers' rows are always in units of 2^-WEIGHT_BITS.
            shift = WEIGHT_BITS - TRANSPOSED_BITS[below.codec.bits]
            columns, largest = layer.codec.transpose(layer.rows, shift, below.codec)
            layer.transposed = tuple(columns)
            layer.transposed_max = max(1, largest)

    def _delta_factors(self, step: float, scales: list[float], sign: float) -> list[float]:
        """Return what δ = 1 is worth in each layer's packed steps (lane units of its rows)."""
        return [
            sign * step * layer.weight_unit / (scale * layer.input_scale)
            for layer, scale in zip(self.layers, scales)
        ]

    def _dithered(self, values: list[float], factor: float) -> list[int]:
        """Return ⌊v · factor + u⌋ for each value, u uniform in [0, 1): unbiased rounding."""
        start = self._random.randrange(DITHER_TABLE_SIZE)
        dither = self._dither[start : start + len(values)]
        return [floor(value * factor + u) for value, u in zip(values, dither)]

    def _random_lanes(self, codec: LaneCodec, shift: int) -> int:
        """Return random lanes in [0, 2^shift) for `codec`, picked from a seeded pool."""
        key = (codec.count, codec.bits, shift)
        pool = self._dither_pools.get(key)
        if pool is None:
            source = self._random.getrandbits
            pool = [codec.random_bits(shift, source) for _ in range(DITHER_POOL_SIZE)]
            self._dither_pools[key] = pool
        return pool[self._random.randrange(DITHER_POOL_SIZE)]

    def _backpropagate(
        self, layer: _Layer, below: _Layer, state: _Hidden, delta: list[float], below_factor: float
    ) -> int:
        """Return the packed, scaled error of the layer below: lanes ≈ δ_below · below_factor."""
        total = sum(map(abs, delta))
        if total == 0.0:
            return 0
        codec = below.codec
        # Choose the error's fixed-point precision so the backpropagated sum fits its lanes.
        # The transposed weights leave out the layer's scale (`_prepare_transposed`).
        scaled_factor = below_factor * layer.scale
        room = (1 << (codec.bits - LANE_MARGIN_BITS)) / (
            total * abs(scaled_factor) * layer.transposed_max
        )
        fraction_bits = TRANSPOSED_BITS[codec.bits]
        extra_bits = min(math.frexp(room)[1] - 1, codec.bits - LANE_MARGIN_BITS - fraction_bits)
        shift = extra_bits + fraction_bits
        factor = scaled_factor * 2.0**extra_bits
        quantised = [round(d * factor) for d in delta]
        back = sum(map(mul, quantised, layer.transposed))
        if state.mask is not None:
            if shift < 1:
                raise LaneOverflow("the backpropagated error is too large for its lanes")
            return codec.shift(back, shift, state.mask, self._random_lanes(codec, shift))
        unit = 2.0**-shift
        errors = [lane * unit * d for lane, d in zip(codec.unpack(back), state.derivatives)]
        return codec.pack(self._dithered(errors, 1.0))

    def _train_batch(
        self,
        batch: list[tuple[SparseImage, int]],
        learning_rate: float,
        momentum: float,
        weight_decay: float,
        skip_confidence: float,
    ) -> BatchFigures:
        self._shown = None  # the rows move on from what the last `changes` returned
        decay = 1.0 - learning_rate * weight_decay
        step = learning_rate / len(batch)
        direct = not momentum
        if direct:
            self._drop_velocities()
            if decay != 1.0:
                for layer in self.layers:
                    layer.scale *= decay
                self._refresh_units()
            new_scales = [layer.scale for layer in self.layers]
        else:
            if self.first_lane_bits == NARROW_LANE_BITS:
                self._widen_first_layer()
            new_scales = [layer.scale * decay for layer in self.layers]
            # This batch's steps add straight into the decayed velocities (v ← μ·v + step).
            self._decay_velocities(learning_rate, momentum, new_scales)
        # Plain SGD adds -step straight into the rows, momentum adds +step into the velocity.
        sign = -1.0 if direct else 1.0
        self._prepare_transposed()
        delta_factors = self._delta_factors(step, new_scales, sign)
        widenings = self.widenings
        last = len(self.layers) - 1
        output = self.layers[last]
        cross_entropy = self.loss == "cross_entropy"
        loss_sum = 0.0
        correct = skipped = 0
        for image, label in batch:
            hidden, zs = self._forward(image)
            if self.widenings != widenings:
                # The first layer moved to wider lanes: new step sizes and transposed weights.
                widenings = self.widenings
                self._prepare_transposed()
                delta_factors = self._delta_factors(step, new_scales, sign)
            outputs = self._outputs(zs)
            probability = outputs[label]
            if cross_entropy:
                loss_sum -= math.log(max(probability, MIN_PROBABILITY))
            else:
                loss_sum += 0.5 * (sum(a * a for a in outputs) + 1.0 - 2.0 * probability)
            if max(outputs) == probability:
                correct += 1
                if probability > skip_confidence:
                    skipped += 1
                    continue
            if cross_entropy:
                delta = list(outputs)
                delta[label] -= 1.0
            else:
                delta = [a * a * (1.0 - a) for a in outputs]
                delta[label] = (probability - 1.0) * probability * (1.0 - probability)
            packed_delta = output.codec.pack(self._dithered(delta, delta_factors[last]))
            for index in range(last, 0, -1):
                layer, below, state = self.layers[index], self.layers[index - 1], hidden[index - 1]
                target = _step_biases(layer, packed_delta, direct)
                for position, value in zip(state.positions, state.values):
                    target[position] += value * packed_delta
                packed_delta = self._backpropagate(
                    layer, below, state, delta, delta_factors[index - 1]
                )
                if index > 1:
                    scale = 1.0 / delta_factors[index - 1]
                    delta = [lane * scale for lane in below.codec.unpack(packed_delta)]
            target = _step_biases(self.layers[0], packed_delta, direct)
            for level, positions in image:
                step_row = packed_delta if level == 1 else level * packed_delta
                for position in positions:
                    target[position] += step_row
        if not math.isfinite(loss_sum):
            raise Diverged(f"training diverged: the loss became {loss_sum}")
        self._apply(len(batch), learning_rate, momentum, new_scales, delta_factors)
        return BatchFigures(loss_sum, correct, skipped)

    def _drop_velocities(self) -> None:
        """Forget the velocities: plain SGD has none, and momentum restarts from zero."""
        for layer in self.layers:
            layer.velocity = layer.bias_velocity = None
        self._learning_rate_before = None

    def _decay_velocities(
        self, learning_rate: float, momentum: float, new_scales: list[float]
    ) -> None:
        """Multiply every velocity by the momentum (creating zero velocities the first time)."""
        previous_rate = self._learning_rate_before or learning_rate
        self._learning_rate_before = learning_rate
        for layer, new_scale in zip(self.layers, new_scales):
            if layer.velocity is None or layer.bias_velocity is None:
                layer.velocity = [0] * len(layer.rows)
                layer.bias_velocity = [0.0] * len(layer.biases)
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
        """Finish a batch: under momentum, move weights and biases by the velocities."""
        for layer, new_scale, delta_factor in zip(self.layers, new_scales, delta_factors):
            if layer.velocity is None or layer.bias_velocity is None:
                self._read_biases(layer)
            else:
                unit = 1.0 / (delta_factor * batch_size)
                packed = layer.codec.unpack(layer.packed_bias_gradients)
                layer.packed_bias_gradients = 0
                layer.bias_velocity = steps = [
                    momentum * v + g * unit for v, g in zip(layer.bias_velocity, packed)
                ]
                layer.biases = [b - learning_rate * s for b, s in zip(layer.biases, steps)]
                layer.rows = list(map(_subtract, layer.rows, layer.velocity))
                layer.scale = new_scale
            if layer.scale < RENORMALISE_BELOW:
                self._renormalise(layer)
        self._batches += 1
        if self._batches % RANGE_CHECK_EVERY == 0:
            self._check_range()
        self._refresh_units()

    def _check_range(self) -> None:
        """Raise LaneOverflow if a weight left its lanes or a first-layer sum could overflow unseen.

        24-bit first-layer lanes that an image of WORST_CASE_PIXELS could overflow unseen move to
        32-bit lanes instead; those must hold any image's sum.
        """
        for layer in self.layers[1:]:
            layer.codec.unpack_rows(layer.rows)
        first = self.layers[0]
        if first.codec.bits == NARROW_LANE_BITS and not self._narrow_lanes_hold(first):
            self._widen_first_layer()
        if first.codec.bits == WIDE_LANE_BITS:
            # Wide lanes are not checked sample by sample: no image may be able to overflow them.
            limit = first.codec.limit // (INPUT_LEVELS * len(first.rows))
            if max(first.codec.row_maxima(first.rows)) > limit:
                raise LaneOverflow("first-layer weights grew beyond the fixed-point range")

    def _renormalise(self, layer: _Layer) -> None:
        """Fold the layer's scale back into its lanes so they keep their precision."""
        weights = self.weights(self.layers.index(layer))
        if layer.velocity is not None:
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


def _step_biases(layer: _Layer, packed_delta: int, direct: bool) -> list[int]:
    """Apply one sample's packed step to the layer's biases and return the rows its weight steps
    go into: plain SGD moves the packed biases and weights at once, momentum adds to the batch's
    bias gradient and velocity."""
    if direct:
        layer.packed_biases += layer.bias_multiplier * packed_delta
        return layer.rows
    layer.packed_bias_gradients += packed_delta
    assert layer.velocity is not None
    return layer.velocity


def _float_weights(rows: Sequence[int], factor: float, codec: LaneCodec) -> list[list[float]]:
    """Return a layer's weights `weights[j][i]` from its packed rows and lane-to-weight factor."""
    values = [value * factor for value in codec.unpack_rows(rows)]
    count = codec.count
    return [values[unit::count] for unit in range(count)]


def _subtract(a: int, b: int) -> int:
    return a - b if b else a
