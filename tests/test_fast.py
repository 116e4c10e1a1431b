"""The packed fast path must do the reference's arithmetic: same losses, same updated weights."""

import math
import random
import statistics

import pytest

from engine import reference
from engine.fast import (
    NARROW_LANE_BITS,
    RANGE_CHECK_EVERY,
    WIDE_LANE_BITS,
    Diverged,
    FastNetwork,
    quantised_inputs,
    sparse_image,
)
from engine.lanes import LaneCodec, LaneOverflow
from engine.network import Network

CASES = [
    ([784, 32, 10], "relu", "cross_entropy"),
    ([784, 16, 16, 10], "sigmoid", "mse"),
    ([784, 12, 10], "tanh", "cross_entropy"),
    ([784, 12, 8, 10], "leaky_relu", "cross_entropy"),
    ([784, 10], "relu", "cross_entropy"),
]


def random_images(count: int, seed: int) -> list[tuple[bytes, int]]:
    """Return (784-byte image, label) pairs with ~120 inked pixels of mixed intensity."""
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        pixels = bytearray(784)
        for _ in range(120):
            pixels[rng.randrange(784)] = rng.choice([40, 128, 200, 255])
        samples.append((bytes(pixels), rng.randrange(10)))
    return samples


def max_difference(a: list, b: list) -> float:
    """Return the largest absolute difference between two nested lists of floats."""
    if isinstance(a, float):
        return abs(a - b)
    return max(max_difference(x, y) for x, y in zip(a, b, strict=True))


def rms_difference(a: list, b: list) -> float:
    """Return the root-mean-square difference between two nested lists of floats."""
    squares = []

    def collect(x: list | float, y: list | float) -> None:
        if isinstance(x, float):
            squares.append((x - y) ** 2)
        else:
            for u, v in zip(x, y, strict=True):
                collect(u, v)

    collect(a, b)
    return math.sqrt(sum(squares) / len(squares))


def assert_close_to_reference(trained: Network, slow: Network, start: Network) -> None:
    """Assert the fast path's parameters match the reference's, relative to how far they moved.

    Fixed-point rounding is dithered, so the paths differ by noise: under 1% of how far the
    parameters moved, up to 2.5% when a unit near zero goes the other way through its ReLU
    on one path. A real bug moves them apart by 7-15% (measured for momentum 0.8 vs 0.9).
    """
    moved_weights = rms_difference(slow.weights, start.weights)
    moved_biases = rms_difference(slow.biases, start.biases)
    assert max_difference(slow.weights, start.weights) > 0.1
    assert rms_difference(trained.weights, slow.weights) < 0.04 * moved_weights
    assert rms_difference(trained.biases, slow.biases) < 0.04 * moved_biases


@pytest.mark.parametrize(("sizes", "activation", "loss"), CASES)
def test_momentum_training_matches_reference(sizes, activation, loss):
    network = Network.create(sizes, activation, loss, seed=1)
    fast = FastNetwork(network, first_lane_bits=WIDE_LANE_BITS)
    slow = network.copy()
    velocity = reference.Gradients.zeros_like(slow)
    data = random_images(48, seed=2)
    for start in range(0, 48, 16):
        batch = data[start : start + 16]
        slow_loss = reference.sgd_step(
            slow, [(quantised_inputs(p), y) for p, y in batch], 0.5, 0.9, 0.01, velocity
        )
        figures = fast.train_batch([(sparse_image(p), y) for p, y in batch], 0.5, 0.9, 0.01)
        assert figures.loss_sum / 16 == pytest.approx(slow_loss, abs=2e-3)
        assert figures.skipped == 0
    assert_close_to_reference(fast.to_network(), slow, network)


def reference_sample_steps(
    network: Network, batch: list[tuple[bytes, int]], learning_rate: float, weight_decay: float
) -> float:
    """Apply plain SGD one sample at a time with step learning_rate / len(batch); return loss sum.

    This is the fast path's plain-SGD rule, where every sample's step goes straight into the
    weights (it also decays the weights once a batch, not a little every sample: the same to
    first order).
    """
    velocity = reference.Gradients.zeros_like(network)
    step = learning_rate / len(batch)
    return sum(
        reference.sgd_step(network, [(quantised_inputs(p), y)], step, 0.0, weight_decay, velocity)
        for p, y in batch
    )


@pytest.mark.parametrize("lane_bits", [NARROW_LANE_BITS, WIDE_LANE_BITS])
@pytest.mark.parametrize(("sizes", "activation", "loss"), CASES)
def test_plain_sgd_writes_each_step_straight_into_the_weights(sizes, activation, loss, lane_bits):
    fast = FastNetwork(Network.create(sizes, activation, loss, seed=1), first_lane_bits=lane_bits)
    data = random_images(48, seed=2)
    weight_gaps, bias_gaps = [], []
    for start in range(0, 48, 16):
        batch = data[start : start + 16]
        # Each batch starts the reference from the fast path's weights, so a difference is this
        # batch's alone and does not snowball.
        begin = fast.to_network()
        slow = begin.copy()
        slow_loss = reference_sample_steps(slow, batch, 0.5, 0.01)
        figures = fast.train_batch([(sparse_image(p), y) for p, y in batch], 0.5, 0.0, 0.01)
        assert figures.loss_sum / 16 == pytest.approx(slow_loss / 16, abs=1e-2)
        trained = fast.to_network()
        assert max_difference(slow.weights, begin.weights) > 0.02
        weight_gaps.append(
            rms_difference(trained.weights, slow.weights)
            / rms_difference(slow.weights, begin.weights)
        )
        bias_gaps.append(
            rms_difference(trained.biases, slow.biases) / rms_difference(slow.biases, begin.biases)
        )
    # The fast path backpropagates through the upper weights of the batch's start, and rounds
    # (more coarsely in 24-bit lanes): 1-6% of how far the parameters moved in a batch. A unit
    # near zero that one path sends through a leaky ReLU's other side can make one batch differ
    # by 30%, hence the median. A wrong step size or sign, or a missed bias, is off by 50-200%.
    assert statistics.median(weight_gaps) < 0.08
    assert statistics.median(bias_gaps) < 0.08
    # Narrow first-layer lanes held every sum of this run.
    assert fast.first_lane_bits == lane_bits and fast.widenings == 0


def bar_images(count: int, seed: int) -> list[tuple[bytes, int]]:
    """Return images where digit k is a thick horizontal bar at a height set by k (0..4)."""
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        label = rng.randrange(5)
        pixels = bytearray(784)
        top = 2 + 5 * label + rng.randrange(2)
        for row in range(top, top + 3):
            for column in range(4 + rng.randrange(3), 24 - rng.randrange(3)):
                pixels[row * 28 + column] = rng.choice([180, 255])
        samples.append((bytes(pixels), label))
    return samples


@pytest.fixture(scope="module")
def confident_network() -> Network:
    """Return a 784-24-10 network trained until it reads about half the bar images with p > 0.9."""
    fast = FastNetwork(Network.create([784, 24, 10], "relu", seed=11), seed=1)
    data = [(sparse_image(p), y) for p, y in bar_images(80, seed=12)]
    for start in range(0, 80, 16):
        fast.train_batch(data[start : start + 16], 0.3)
    return fast.to_network()


def test_confident_samples_skip_the_backward_pass(confident_network):
    network = confident_network
    batch = bar_images(12, seed=13)
    # Which samples are read right with p > 0.88, by the reference, before the step.
    probabilities = [network.predict(quantised_inputs(p)) for p, _ in batch]
    confident = [max(p) == p[y] and p[y] > 0.88 for p, (_, y) in zip(probabilities, batch)]
    assert all(abs(p[y] - 0.88) > 0.01 for p, (_, y) in zip(probabilities, batch))
    assert 0 < sum(confident) < len(batch)
    # Momentum: the fast path's step is the reference's over the samples that were not skipped
    # (the mean still divides by the whole batch).
    fast = FastNetwork(network, first_lane_bits=WIDE_LANE_BITS)
    figures = fast.train_batch([(sparse_image(p), y) for p, y in batch], 2.0, 0.5, 0.0, 0.88)
    assert figures.skipped == sum(confident)
    assert figures.correct >= figures.skipped
    slow = network.copy()
    kept = [(quantised_inputs(p), y) for (p, y), sure in zip(batch, confident) if not sure]
    velocity = reference.Gradients.zeros_like(slow)
    reference.sgd_step(slow, kept, 2.0 * len(kept) / len(batch), 0.5, 0.0, velocity)
    assert_close_to_reference(fast.to_network(), slow, network)


def test_a_batch_of_confident_samples_changes_nothing(confident_network):
    network = confident_network
    sure = [
        (p, y) for p, y in bar_images(40, seed=14) if network.predict(quantised_inputs(p))[y] > 0.91
    ][:8]
    assert len(sure) == 8
    for momentum in (0.0, 0.9):
        fast = FastNetwork(network)
        before = fast.to_network()
        figures = fast.train_batch([(sparse_image(p), y) for p, y in sure], 0.5, momentum, 0.0, 0.9)
        assert figures.skipped == 8 and figures.correct == 8
        after = fast.to_network()
        assert after.weights == before.weights and after.biases == before.biases
        # With skipping off, the same batch does move the weights.
        figures = fast.train_batch([(sparse_image(p), y) for p, y in sure], 0.5, momentum)
        assert figures.skipped == 0
        assert fast.to_network().weights != before.weights


def test_training_is_bit_for_bit_reproducible_for_a_seed():
    data = [(sparse_image(p), y) for p, y in random_images(64, seed=15)]

    def run(seed: int) -> Network:
        fast = FastNetwork(Network.create([784, 16, 10], "relu", seed=3), seed=seed)
        for start in range(0, 64, 16):
            fast.train_batch(data[start : start + 16], 0.5, 0.0, 0.001, 0.3)
        return fast.to_network()

    assert run(4).weights == run(4).weights
    assert run(4).weights != run(5).weights


def image_with_ink(pixel_count: int, value: int = 255) -> bytes:
    """Return a 784-byte image whose first pixel_count pixels (row by row) are inked."""
    return bytes([value] * pixel_count + [0] * (784 - pixel_count))


def test_weights_near_the_narrow_lane_limit_start_wide():
    network = Network.create([784, 8, 10], "relu", seed=16)
    # 255.9 is just inside a 24-bit lane (2^22 / 2^14 = 256), but a fully inked pixel sums it
    # 4×, beyond what the per-sample check can see: the layer starts in 32-bit lanes.
    network.weights[0][3][0] = 255.9
    fast = FastNetwork(network)
    assert fast.first_lane_bits == WIDE_LANE_BITS and fast.widenings == 1
    pixels = image_with_ink(1)
    expected = network.predict(quantised_inputs(pixels))
    assert max_difference(fast.predict(pixels), expected) < 1e-4
    network.weights[0][2][100] = 600.0  # does not even pack into a 24-bit lane
    assert FastNetwork(network).first_lane_bits == WIDE_LANE_BITS


def heavy_unit_network(seed: int) -> Network:
    """Return a 784-8-10 network whose unit 5 weighs the first 400 pixels by 0.45.

    A sum over 400 pixels stays checkable in 24-bit lanes (|z| ≤ 180 < 3 · 64), so the layer
    starts narrow; an image inking 300 of them fully makes z = 135, beyond the lanes' 64. The
    unit's outgoing weights are small, so such an image still has ordinary outputs.
    """
    network = Network.create([784, 8, 10], "relu", seed=seed)
    network.weights[0][5] = [0.45] * 400 + [0.0] * 384
    for row in network.weights[1]:
        row[5] = 0.01
    return network


def test_a_sum_beyond_narrow_lanes_widens_them_and_is_computed_again():
    network = heavy_unit_network(17)
    fast = FastNetwork(network)
    assert fast.first_lane_bits == NARROW_LANE_BITS
    light = image_with_ink(120, 100)
    assert max_difference(fast.predict(light), network.predict(quantised_inputs(light))) < 3e-4
    assert fast.first_lane_bits == NARROW_LANE_BITS
    heavy = image_with_ink(300)
    assert max_difference(fast.predict(heavy), network.predict(quantised_inputs(heavy))) < 1e-4
    assert fast.first_lane_bits == WIDE_LANE_BITS and fast.widenings == 1


def test_training_widens_in_the_middle_of_a_batch_and_goes_on():
    network = heavy_unit_network(18)
    batch = [*random_images(8, seed=19), (image_with_ink(300), 1), *random_images(7, seed=20)]
    sparse = [(sparse_image(p), y) for p, y in batch]
    widened = FastNetwork(network)
    figures = widened.train_batch(sparse, 0.05)
    assert widened.widenings == 1
    # The same batch in lanes that were wide from the start: the same steps, up to rounding.
    wide = FastNetwork(network, first_lane_bits=WIDE_LANE_BITS)
    assert figures.loss_sum == pytest.approx(wide.train_batch(sparse, 0.05).loss_sum, rel=1e-3)
    assert_close_to_reference(widened.to_network(), wide.to_network(), network)


def test_an_image_with_more_ink_than_narrow_lanes_check_widens_them():
    fast = FastNetwork(Network.create([784, 8, 10], "relu", seed=21))
    assert fast.first_lane_bits == NARROW_LANE_BITS
    fast.predict(image_with_ink(500, 60))
    assert fast.first_lane_bits == WIDE_LANE_BITS


def test_weights_beyond_what_wide_lanes_hold_for_every_image_diverge():
    network = Network.create([784, 8, 10], "relu", seed=19)
    # A fully inked image would sum 784 · 6 = 4704 > 2^30 / 2^18 = 4096 in unit 1's lane.
    network.weights[0][1] = [6.0] * 784
    fast = FastNetwork(network)
    assert fast.first_lane_bits == WIDE_LANE_BITS
    pixels = image_with_ink(120)  # z = 720: this image's sums fit
    assert max_difference(fast.predict(pixels), network.predict(quantised_inputs(pixels))) < 1e-4
    sample = [(sparse_image(pixels), 1)]
    with pytest.raises(Diverged, match="fixed-point range"):
        for _ in range(RANGE_CHECK_EVERY):
            fast.train_batch(sample, 1e-9)


# 24-bit lanes hold first-layer weights with 14 fractional bits and ReLU outputs with 9.
@pytest.mark.parametrize(("lane_bits", "tolerance"), [(NARROW_LANE_BITS, 3e-4), (32, 1e-4)])
def test_fast_prediction_matches_reference_forward(lane_bits, tolerance):
    network = Network.create([784, 64, 10], "relu", seed=3)
    fast = FastNetwork(network, first_lane_bits=lane_bits)
    for pixels, _ in random_images(5, seed=4):
        expected = network.predict(quantised_inputs(pixels))
        assert max_difference(fast.predict(pixels), expected) < tolerance


def test_round_trip_keeps_weights():
    network = Network.create([784, 20, 10], "tanh", seed=5)
    back = FastNetwork(network).to_network()
    assert max_difference(back.weights, network.weights) < 1e-4
    assert back.biases == network.biases


def test_sparse_image_groups_pixels_by_level():
    pixels = bytearray(784)
    pixels[3], pixels[10], pixels[500], pixels[783] = 255, 128, 255, 20
    groups = dict(sparse_image(bytes(pixels)))
    assert groups == {4: (3, 500), 2: (10,)}  # 20/255 rounds to level 0 and is dropped


def test_huge_learning_rate_raises_diverged():
    fast = FastNetwork(Network.create([784, 16, 10], "relu", seed=6))
    data = [(sparse_image(p), y) for p, y in random_images(32, seed=7)]
    with pytest.raises(Diverged):
        for _ in range(50):
            fast.train_batch(data, 1e6)


def test_lanes_add_and_scale_every_lane():
    codec = LaneCodec(5, bits=32)
    rng = random.Random(8)
    for _ in range(200):
        a = [rng.randrange(-(2**20), 2**20) for _ in range(5)]
        b = [rng.randrange(-(2**20), 2**20) for _ in range(5)]
        assert codec.unpack(codec.pack(a) - 3 * codec.pack(b)) == tuple(
            x - 3 * y for x, y in zip(a, b)
        )
        assert codec.unpack(codec.scale([codec.pack(a)], 0.75)[0]) == tuple(
            (x * 192 + 128) >> 8 for x in a
        )
        assert codec.unpack(codec.scale([codec.pack(a)], 2.5)[0]) == tuple(
            2 * ((x * 320 + 128) >> 8) for x in a
        )


def test_unpack_rows_matches_unpacking_each_row():
    for bits in (24, 32, 64):
        codec = LaneCodec(6, bits=bits)
        rng = random.Random(bits)
        rows = [[rng.randrange(-(2**21), 2**21) for _ in range(6)] for _ in range(9)]
        packed = [codec.pack(row) for row in rows]
        assert codec.unpack_rows(packed) == tuple(value for row in rows for value in row)
        with pytest.raises(LaneOverflow):
            codec.unpack_rows([*packed, packed[0] << (bits - 4)])


@pytest.mark.parametrize(
    "bits, target_bits", [(24, 24), (32, 24), (32, 32), (64, 24), (64, 32), (64, 64)]
)
def test_transpose_reads_rows_lane_by_lane_rounded_to_nearest(bits, target_bits):
    codec, target = LaneCodec(6, bits=bits), LaneCodec(9, bits=target_bits)
    rng = random.Random(bits * 100 + target_bits)
    shift = min(bits, target_bits) - 20 if bits != target_bits else 0
    span = 1 << min(bits - 3, target_bits - 2 + shift)
    rows = [[rng.randrange(-span, span) for _ in range(6)] for _ in range(9)]
    rows[4][2] = -span  # the most negative lane
    if shift:
        rows[0][0], rows[0][1] = 3 << (shift - 1), -(3 << (shift - 1))  # halves round up
    columns, largest = codec.transpose([codec.pack(row) for row in rows], shift, target)
    expected = [[(row[lane] + (1 << shift >> 1)) >> shift for row in rows] for lane in range(6)]
    assert [list(target.unpack(column)) for column in columns] == expected
    assert largest == max(abs(value) for column in expected for value in column)
    if shift:
        assert expected[0][0] == 2 and expected[1][0] == -1


def test_transpose_refuses_values_out_of_the_target_lanes_range():
    codec, target = LaneCodec(3, bits=64), LaneCodec(2, bits=24)
    limit = target.limit  # what target.unpack accepts: [-limit, limit)
    fits = [[limit - 1, -limit, 5], [-7, 0, 1]]
    columns, largest = codec.transpose([codec.pack(row) for row in fits], 0, target)
    assert [target.unpack(column) for column in columns] == [(limit - 1, -7), (-limit, 0), (5, 1)]
    assert largest == limit
    for too_big in (limit, -limit - 1, 1 << 40):
        rows = [codec.pack([0, too_big, 0]), codec.pack([1, 2, 3])]
        with pytest.raises(LaneOverflow):
            codec.transpose(rows, 0, target)
    # Shifted down far enough, the same value fits.
    columns, _ = codec.transpose([codec.pack([0, 1 << 40, 0]), codec.pack([1, 2, 3])], 20, target)
    assert target.unpack(columns[1]) == (1 << 20, 0)


@pytest.mark.parametrize("bits", [24, 32, 64])
def test_row_maxima_are_each_rows_largest_absolute_lane(bits):
    codec = LaneCodec(7, bits=bits)
    limit = codec.limit
    rng = random.Random(bits)
    rows = [[rng.randrange(-limit, limit) for _ in range(7)] for _ in range(40)]
    rows += [[0] * 7, [-limit] + [0] * 6, [0] * 6 + [limit - 1], [-3, 3, -2, 2, 1, -1, 0]]
    rows += [[rng.randrange(-9, 9) for _ in range(7)] for _ in range(5)]
    packed = [codec.pack(row) for row in rows]
    assert codec.row_maxima(packed) == tuple(max(map(abs, row)) for row in rows)
    with pytest.raises(LaneOverflow):
        codec.row_maxima([*packed, codec.pack([0, 0, limit, 0, 0, 0, 0])])
    with pytest.raises(LaneOverflow):
        codec.row_maxima([*packed, codec.pack([0, 0, 0, 0, 0, -limit - 1, 0])])


@pytest.mark.parametrize("bits", [24, 32, 64])
def test_unpack_accepts_exactly_the_safe_lane_range(bits):
    codec = LaneCodec(5, bits=bits)
    limit = 1 << (bits - 2)
    for value in (limit - 1, -limit, 0, -7):
        assert codec.unpack(codec.pack([0, value, 3, -2, value])) == (0, value, 3, -2, value)
    for value in (limit, -limit - 1, 2 * limit - 1, -2 * limit):
        with pytest.raises(LaneOverflow):
            codec.unpack(codec.pack([0, 1, value, 0, 0]))
    with pytest.raises(LaneOverflow):
        codec.unpack(-(1 << (5 * bits + 3)))


def test_lane_overflow_is_detected():
    codec = LaneCodec(3, bits=32)
    with pytest.raises(LaneOverflow):
        codec.unpack(codec.pack([2**29, 0, 0]) * 4)
    with pytest.raises(LaneOverflow):
        codec.pack([2**40, 0, 0])


@pytest.mark.parametrize("bits", [24, 32, 64])
def test_relu_on_lanes_rounds_and_masks_every_lane(bits):
    codec = LaneCodec(7, bits=bits)
    rng = random.Random(bits)
    limit = codec.limit
    for shift in sorted({0, 3, codec.min_relu_shift, codec.min_relu_shift + 2}):
        for _ in range(50):
            values = [rng.randrange(-limit, limit) for _ in range(7)]
            values[rng.randrange(7)] = rng.choice([limit - 1, -limit, 0, -1])
            mask, lanes = codec.relu(codec.pack(values), shift)
            half = (1 << shift) >> 1
            assert lanes == tuple((max(v, 0) + half) >> shift for v in values)
            low_bits = (1 << (bits - 1)) - 1
            assert mask == sum(low_bits << (bits * j) for j, v in enumerate(values) if v >= 0)
    with pytest.raises(LaneOverflow):
        codec.relu(codec.pack([0, limit, 0, 0, 0, 0, 0]), codec.min_relu_shift)


def test_narrow_lanes_reject_values_that_do_not_fit_24_bits():
    codec = LaneCodec(3, bits=24)
    assert codec.unpack(codec.pack([2**21, -(2**22), 5])) == (2**21, -(2**22), 5)
    with pytest.raises(LaneOverflow):
        codec.pack([2**23, 0, 0])
    with pytest.raises(LaneOverflow):
        codec.pack([0, -(2**23) - 1, 0])


def test_merging_a_copy_that_widened_its_lanes_widens_every_copy():
    network = Network.create([784, 12, 10], "relu", seed=22)
    narrow, widened = FastNetwork(network), FastNetwork(network)
    widened._widen_first_layer()  # as a sum overflowing its narrow lanes does mid-run
    widened.layers[0].biases[0] += 0.5
    narrow.layers[0].biases[0] += 0.25  # so the merge differs from either copy
    states = [narrow.changes(), widened.changes()]
    assert states[0].layers[0][0] == [] and len(states[1].layers[0][0]) == 784, (
        "widening changes every row"
    )
    for copy in (narrow, widened):
        copy.merge(states)
        assert copy.first_lane_bits == WIDE_LANE_BITS
        assert max_difference(copy.weights(0), network.weights[0]) < 1e-4
        assert copy.layers[0].biases[0] == pytest.approx(network.biases[0][0] + 0.75)
    assert narrow.weights(0) == widened.weights(0)
    assert narrow.changes().layers[0][0] == widened.changes().layers[0][0] == [], (
        "both met at the merge"
    )
    lone = FastNetwork(network)
    lone.merge([lone.changes(), lone.changes()])
    assert lone.first_lane_bits == NARROW_LANE_BITS


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_a_snapshot_keeps_the_parameters_of_its_moment(momentum):
    fast = FastNetwork(Network.create([784, 16, 10], "relu", seed=40), seed=41)
    batch = [
        (sparse_image(bytes(random.Random(i).randrange(256) for _ in range(784))), i % 10)
        for i in range(8)
    ]
    fast.train_batch(batch, 0.5, momentum, weight_decay=0.01)
    then = fast.to_network()
    snapshot = fast.snapshot()
    for _ in range(3):
        fast.train_batch(batch, 0.5, momentum, weight_decay=0.01)

    kept = snapshot.to_network()
    assert kept.weights == then.weights and kept.biases == then.biases
    assert fast.to_network().weights != then.weights, "training went on meanwhile"
    assert kept.layer_sizes == then.layer_sizes and kept.metadata == then.metadata


@pytest.mark.parametrize("layer_sizes,activation,loss", CASES)
def test_forward_gives_every_layer_as_the_float_network_does(layer_sizes, activation, loss):
    network = Network.create(layer_sizes, activation, loss, seed=31)
    fast = FastNetwork(network)
    for pixels, _ in random_images(5, seed=32):
        layers = fast.forward(pixels)
        expected = network.forward(quantised_inputs(pixels))
        assert [len(layer) for layer in layers] == [len(layer) for layer in expected]
        assert layers[0] == expected[0]
        assert layers[-1] == fast.predict(pixels)
        for layer, expected_layer in zip(layers[1:], expected[1:]):
            # Fixed-point sums and activations: about 2^-8 of an activation's size at most.
            scale = max(1.0, *map(abs, expected_layer))
            assert max_difference(layer, expected_layer) < 0.01 * scale
        if activation == "relu" and len(layer_sizes) > 2:
            assert any(a == 0.0 for a in layers[1]) and any(a > 0.0 for a in layers[1])
