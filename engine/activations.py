"""Activation functions of hidden units and their derivatives, one float at a time.

Each activation is given by name; `activate` maps a pre-activation z to an output a, and
`derivative` gives da/dz from z and a (whichever is cheaper), so backpropagation never has
to recompute the forward pass.
"""

import math

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
LEAKY_SLOPE = 0.01


def sigmoid(z: float) -> float:
    """Return 1 / (1 + e^-z) without overflow for any finite z (e.g. |z| > 700)."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    exp_z = math.exp(z)
    return exp_z / (1.0 + exp_z)


def activate(name: str, z: float) -> float:
    """Return the activation `name` applied to the pre-activation z."""
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return z if z > 0.0 else 0.0
    if name == "leaky_relu":
        return z if z > 0.0 else LEAKY_SLOPE * z
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def derivative(name: str, z: float, a: float) -> float:
    """Return da/dz of activation `name` at pre-activation z whose output is a."""
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return 1.0 if z > 0.0 else 0.0
    if name == "leaky_relu":
        return 1.0 if z > 0.0 else LEAKY_SLOPE
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
