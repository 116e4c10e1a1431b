"""The readable reference: activations, losses and backpropagation against finite differences."""

import math
import random

import pytest

from engine import reference
from engine.activations import ACTIVATIONS, activate, derivative, sigmoid
from engine.network import Network, parse_architecture

STEP = 1e-6


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivatives_match_finite_differences(name):
    for z in (-3.0, -0.4, 0.3, 2.5):
        a = activate(name, z)
        numeric = (activate(name, z + STEP) - activate(name, z - STEP)) / (2 * STEP)
        assert derivative(name, z, a) == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_sigmoid_is_stable_for_huge_inputs():
    assert sigmoid(800.0) == 1.0
    assert sigmoid(-800.0) == 0.0
    assert sigmoid(-710.0) >= 0.0
    assert sigmoid(0.0) == 0.5


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_matches_finite_differences(activation, loss):
    rng = random.Random(11)
    network = Network.create([784, 5, 4, 10], activation, loss, seed=3)
    inputs = [rng.random() if rng.random() < 0.2 else 0.0 for _ in range(784)]
    label = 7
    _, gradients = reference.backprop(network, inputs, label)
    # Check a sample of parameters in every layer, including ones fed by non-zero inputs.
    inked = [i for i, x in enumerate(inputs) if x][:3]
    for layer, rows in enumerate(network.weights):
        columns = inked if layer == 0 else range(len(rows[0]))
        for j in range(len(rows)):
            for i in list(columns)[:3]:
                original = rows[j][i]
                rows[j][i] = original + STEP
                plus = reference.sample_loss(network, inputs, label)
                rows[j][i] = original - STEP
                minus = reference.sample_loss(network, inputs, label)
                rows[j][i] = original
                numeric = (plus - minus) / (2 * STEP)
                assert gradients.weights[layer][j][i] == pytest.approx(numeric, rel=1e-4, abs=1e-8)
        for j in range(len(network.biases[layer])):
            original = network.biases[layer][j]
            network.biases[layer][j] = original + STEP
            plus = reference.sample_loss(network, inputs, label)
            network.biases[layer][j] = original - STEP
            minus = reference.sample_loss(network, inputs, label)
            network.biases[layer][j] = original
            numeric = (plus - minus) / (2 * STEP)
            assert gradients.biases[layer][j] == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_sgd_step_applies_momentum_and_weight_decay():
    network = Network.create([784, 3, 10], "relu", seed=4)
    inputs = [0.5] * 784
    velocity = reference.Gradients.zeros_like(network)
    before = network.copy()
    _, gradients = reference.backprop(before, inputs, 2)
    reference.sgd_step(network, [(inputs, 2)], 0.1, 0.9, 0.01, velocity)
    w, g = before.weights[0][1][5], gradients.weights[0][1][5]
    assert network.weights[0][1][5] == pytest.approx((1 - 0.1 * 0.01) * w - 0.1 * g)
    assert velocity.weights[0][1][5] == pytest.approx(g)


def test_sgd_reduces_the_loss():
    network = Network.create([784, 8, 10], "sigmoid", "mse", seed=5)
    inputs = [1.0 if i % 7 == 0 else 0.0 for i in range(784)]
    velocity = reference.Gradients.zeros_like(network)
    first = reference.sgd_step(network, [(inputs, 3)], 1.0, 0.0, 0.0, velocity)
    for _ in range(20):
        last = reference.sgd_step(network, [(inputs, 3)], 1.0, 0.0, 0.0, velocity)
    assert last < first / 2


def test_initialisation_is_seeded_and_scaled():
    a = Network.create([784, 64, 10], "relu", seed=1)
    b = Network.create([784, 64, 10], "relu", seed=1)
    c = Network.create([784, 64, 10], "relu", seed=2)
    assert a.weights == b.weights and a.weights != c.weights
    values = [w for row in a.weights[0] for w in row]
    std = math.sqrt(sum(v * v for v in values) / len(values))
    assert std == pytest.approx(math.sqrt(2 / 784), rel=0.05)  # He initialisation
    xavier = Network.create([784, 64, 10], "tanh", seed=1)
    values = [w for row in xavier.weights[0] for w in row]
    std = math.sqrt(sum(v * v for v in values) / len(values))
    assert std == pytest.approx(math.sqrt(2 / (784 + 64)), rel=0.05)


def test_architecture_text_is_validated():
    assert parse_architecture("784-128-10") == [784, 128, 10]
    for bad in ("784-128", "10-784", "784-x-10", "784-0-10", ""):
        with pytest.raises(ValueError):
            parse_architecture(bad)
