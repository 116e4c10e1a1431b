"""The packed fast path must do the reference's arithmetic: same losses, same updated weights."""

import math
import random

import pytest

from engine import reference
from engine.fast import Diverged, FastNetwork, quantised_inputs, sparse_image
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


@pytest.mark.parametrize(("sizes", "activation", "loss"), CASES)
def test_fast_training_matches_reference(sizes, activation, loss):
    network = Network.create(sizes, activation, loss, seed=1)
    fast = FastNetwork(network)
    slow = network.copy()
    velocity = reference.Gradients.zeros_like(slow)
    data = random_images(48, seed=2)
    for start in range(0, 48, 16):
        batch = data[start : start + 16]
        slow_loss = reference.sgd_step(
            slow, [(quantised_inputs(p), y) for p, y in batch], 0.5, 0.9, 0.01, velocity
        )
        fast_loss, _ = fast.train_batch([(sparse_image(p), y) for p, y in batch], 0.5, 0.9, 0.01)
        assert fast_loss / 16 == pytest.approx(slow_loss, abs=1e-3)
    trained = fast.to_network()
    # Fixed-point rounding is dithered, so the paths differ by noise: under 1% of how far the
    # parameters moved, up to 2.5% when a unit near zero goes the other way through its ReLU
    # on one path. A real bug moves them apart by 7-15% (measured for momentum 0.8 vs 0.9).
    moved_weights = rms_difference(slow.weights, network.weights)
    moved_biases = rms_difference(slow.biases, network.biases)
    assert max_difference(slow.weights, network.weights) > 0.1
    assert rms_difference(trained.weights, slow.weights) < 0.04 * moved_weights
    assert rms_difference(trained.biases, slow.biases) < 0.04 * moved_biases


def test_fast_prediction_matches_reference_forward():
    network = Network.create([784, 64, 10], "relu", seed=3)
    fast = FastNetwork(network)
    for pixels, _ in random_images(5, seed=4):
        expected = network.predict(quantised_inputs(pixels))
        assert max_difference(fast.predict(pixels), expected) < 1e-4


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
    for bits in (32, 64):
        codec = LaneCodec(6, bits=bits)
        rng = random.Random(bits)
        rows = [[rng.randrange(-(2**25), 2**25) for _ in range(6)] for _ in range(9)]
        packed = [codec.pack(row) for row in rows]
        assert codec.unpack_rows(packed) == tuple(value for row in rows for value in row)
        with pytest.raises(LaneOverflow):
            codec.unpack_rows([*packed, packed[0] << (bits - 4)])


@pytest.mark.parametrize("bits", [32, 64])
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
