"""Functions written with every common import style of NumPy and math (tests/test_spellings.py)."""
import math as m
import numpy
import numpy.linalg as la
from math import sin as msin
from numpy import float64, newaxis, pi, sum as npsum, tanh
import numpy as np_alias


def plain_numpy(x):
    return numpy.sum(numpy.sin(x) * 2.0 + numpy.exp(x))


def from_import(x):
    return npsum(tanh(x) * pi)


def linalg_alias(x):
    return numpy.sum(la.inv(numpy.eye(4) + numpy.outer(x, x))) + m.sin(x[0]) + msin(x[1])


def other_alias(x):
    y = np_alias.cos(x)
    return np_alias.mean(y * x)


def newaxis_and_dtype(x):
    y = x[newaxis, :] * x[:, newaxis]
    return numpy.sum(y.astype(float64))


def in_a_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + m.exp(x[i]) * numpy.tanh(x[i])
    return s


def local_named_np(x):
    np = 3.0            # a local called np: the function's own name wins, nothing is respelled as np.*
    return numpy.sum(x * np)


def helper(v):
    return numpy.square(tanh(v))


def through_a_helper(x):
    return npsum(helper(x) + m.pi)
