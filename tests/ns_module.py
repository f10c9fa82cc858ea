"""A module whose globals the tests in test_namespaces.py change (a helper from another module)."""
import numpy as np

K = 1.0
W = np.array([1.0, 2.0, 3.0])


def scaled(x):
    return K * np.sum(np.sin(W * x))
