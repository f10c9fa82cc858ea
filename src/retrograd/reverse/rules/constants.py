"""Functions whose results carry no derivative: integers, shapes, booleans, constructors, random draws."""
import math

import numpy as np

from .registry import constant

constant(len, range, int, bool, isinstance, round, print, str, type, id, hash, enumerate, zip,
         math.floor, math.ceil, math.isnan, math.isinf, math.isfinite, math.trunc, math.factorial,
         np.shape, np.ndim, np.size, np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.sign,
         np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix, np.isnan, np.isinf, np.isfinite,
         np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
         np.logical_and, np.logical_or, np.logical_not, np.logical_xor, np.all, np.any, np.count_nonzero,
         np.searchsorted, np.digitize, np.floor_divide, np.heaviside,
         np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like, np.empty_like, np.eye, np.identity,
         np.arange, np.tri, np.random.rand, np.random.randn, np.random.normal, np.random.uniform,
         np.random.randint, np.random.default_rng,
         methods=("argmax", "argmin", "argsort", "nonzero", "any", "all", "round"))
