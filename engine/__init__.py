"""Digits engine: a pure-Python neural network for MNIST (standard library only)."""
