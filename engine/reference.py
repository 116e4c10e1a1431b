"""Backpropagation and SGD written for reading: plain float lists, the maths in plain loops.

This is the source of truth for what training means in Digits. It is slow (a few hundred
samples a second); `engine.fast` does the same arithmetic in packed integers and is tested
against these functions, which are in turn tested against finite differences.

Update rule for one mini-batch of size B (`sgd_step`), with g the mean gradient of the loss:
    velocity = momentum * velocity + g
    weights  = (1 - learning_rate * weight_decay) * weights - learning_rate * velocity
    biases   = biases - learning_rate * velocity_of_biases
(weight decay is applied to weights only, decoupled from the momentum, as in SGDW).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.activations import activate, derivative
from engine.network import Network, output_activation

MIN_PROBABILITY = 1e-12


@dataclass
class Gradients:
    """Hold dLoss/dWeights (`weights[layer][j][i]`) and dLoss/dBiases (`biases[layer][j]`)."""

    weights: list[list[list[float]]]
    biases: list[list[float]]

    @classmethod
    def zeros_like(cls, network: Network) -> Gradients:
        """Return all-zero gradients shaped like the network's parameters."""
        return cls(
            [[[0.0] * len(row) for row in layer] for layer in network.weights],
            [[0.0] * len(layer) for layer in network.biases],
        )


def loss_value(loss: str, outputs: list[float], label: int) -> float:
    """Return one sample's loss: -ln p[label] (cross-entropy) or ½‖outputs − one_hot‖² (MSE)."""
    if loss == "cross_entropy":
        return -math.log(max(outputs[label], MIN_PROBABILITY))
    return 0.5 * sum((value - (1.0 if k == label else 0.0)) ** 2 for k, value in enumerate(outputs))


def sample_loss(network: Network, inputs: list[float], label: int) -> float:
    """Return the loss of the network on one sample (784 inputs in [0, 1], label 0..9)."""
    return loss_value(network.loss, network.predict(inputs), label)


def backprop(network: Network, inputs: list[float], label: int) -> tuple[float, Gradients]:
    """Return the loss of one sample and its gradients with respect to every parameter."""
    pre_activations: list[list[float]] = []
    layers = [list(inputs)]
    last = len(network.weights) - 1
    for index, (rows, biases) in enumerate(zip(network.weights, network.biases)):
        zs = [bias + sum(w * a for w, a in zip(row, layers[-1])) for row, bias in zip(rows, biases)]
        pre_activations.append(zs)
        if index < last:
            layers.append([activate(network.activation, z) for z in zs])
        else:
            layers.append(output_activation(network.loss, zs))

    outputs = layers[-1]
    targets = [1.0 if k == label else 0.0 for k in range(len(outputs))]
    if network.loss == "cross_entropy":
        # d(-ln softmax_label)/dz_k simplifies to p_k - y_k.
        delta = [p - y for p, y in zip(outputs, targets)]
    else:
        delta = [(a - y) * a * (1.0 - a) for a, y in zip(outputs, targets)]

    gradients = Gradients.zeros_like(network)
    for index in range(last, -1, -1):
        previous = layers[index]
        gradients.biases[index] = list(delta)
        gradients.weights[index] = [[d * a for a in previous] for d in delta]
        if index > 0:
            rows = network.weights[index]
            delta = [
                sum(rows[j][i] * delta[j] for j in range(len(delta)))
                * derivative(network.activation, z, a)
                for i, (z, a) in enumerate(zip(pre_activations[index - 1], previous))
            ]
    return loss_value(network.loss, outputs, label), gradients


def sgd_step(
    network: Network,
    batch: list[tuple[list[float], int]],
    learning_rate: float,
    momentum: float,
    weight_decay: float,
    velocity: Gradients,
) -> float:
    """Apply one mini-batch SGD update in place (see the module docstring); return the mean loss.

    `batch` holds (784 inputs, label) pairs; `velocity` is updated in place and must start as
    `Gradients.zeros_like(network)`.
    """
    total = Gradients.zeros_like(network)
    total_loss = 0.0
    for inputs, label in batch:
        loss, gradients = backprop(network, inputs, label)
        total_loss += loss
        for layer, grad_layer in zip(total.weights, gradients.weights):
            for row, grad_row in zip(layer, grad_layer):
                for i, g in enumerate(grad_row):
                    row[i] += g
        for layer, grad_layer in zip(total.biases, gradients.biases):
            for j, g in enumerate(grad_layer):
                layer[j] += g

    size = len(batch)
    decay = 1.0 - learning_rate * weight_decay
    for weights, velocities, grads in zip(network.weights, velocity.weights, total.weights):
        for row, velocity_row, grad_row in zip(weights, velocities, grads):
            for i, g in enumerate(grad_row):
                velocity_row[i] = momentum * velocity_row[i] + g / size
                row[i] = decay * row[i] - learning_rate * velocity_row[i]
    for biases, velocities, grads in zip(network.biases, velocity.biases, total.biases):
        for j, g in enumerate(grads):
            velocities[j] = momentum * velocities[j] + g / size
            biases[j] -= learning_rate * velocities[j]
    return total_loss / size
