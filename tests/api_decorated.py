"""Functions differentiated with the decorator syntax at import time (imported by test_api.py
inside its tests, so that a failure here does not stop the whole test module from loading)."""
import numpy as np

import retrograd as rg


@rg.differentiate
def loss(W, x, y):
    """Mean squared error of a tanh model: the docstring must not confuse retrograd."""
    pred = np.tanh(x @ W)
    return np.mean((pred - y) ** 2)


@rg.differentiate(wrt=("W", "b"))
def layer(x, W, b):
    return np.sum(np.tanh(x @ W + b) ** 2)


@rg.differentiate(wrt=(2, 1))
def layer_by_position(x, W, b):
    return np.sum(np.tanh(x @ W + b) ** 2)


def _helper(v):
    return np.sin(v) * v


@rg.differentiate(wrt="x")
def uses_helper(x, k):
    return np.sum(_helper(x) * k)
