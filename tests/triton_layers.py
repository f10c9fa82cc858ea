"""Layers for the triton backend tests, written in NumPy style (a real file: Triton needs real source)."""
import numpy as np

import retrograd as rg

EPS = 1e-5


# ---- elementwise -------------------------------------------------------------------------------------
def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def silu(x, beta):
    return x / (1.0 + np.exp(-beta * x))


def softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def mish(x):
    sp = np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
    return x * np.tanh(sp)


def gated(a, b):
    return a / (1.0 + np.exp(-b)) + 0.1 * a * b


def smooth_l1(x, y):
    d = x - y
    a = np.abs(d)
    return np.where(a < 1.0, 0.5 * d * d, a - 0.5)


# ---- row-wise ----------------------------------------------------------------------------------------
def softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(x):
    m = np.max(x)
    z = x - m
    return z - np.log(np.sum(np.exp(z)))


def layernorm(x, w, b, eps=1e-5):
    mu = np.mean(x)
    xc = x - mu
    var = np.mean(xc * xc)
    rstd = 1.0 / np.sqrt(var + eps)
    return xc * rstd * w + b


def rmsnorm(x, w):
    ms = np.mean(x * x)
    return x / np.sqrt(ms + EPS) * w


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def cross_entropy(logits, target):
    m = np.max(logits)
    lse = m + np.log(np.sum(np.exp(logits - m)))
    return lse - logits[target]


def tempered_softmax(x, temperature):
    z = x / temperature
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


# ---- refused -----------------------------------------------------------------------------------------
def with_loop(x, n):
    y = x
    for _ in range(n):
        y = y * x
    return y


def with_arctan(x):
    return np.arctan(x) * 2.0


def column_sum(x):
    s = np.sum(x, axis=0)
    return x - s


@rg.differentiate(backend="triton", wrt=("x", "w", "b"))
def decorated_layernorm(x, w, b):
    mu = np.mean(x)
    xc = x - mu
    rstd = 1.0 / np.sqrt(np.mean(xc * xc) + 1e-5)
    return xc * rstd * w + b


def layernorm_var(x, w, b):
    xc = x - np.mean(x, axis=-1, keepdims=True)
    return xc / np.sqrt(np.var(x, axis=-1, keepdims=True) + EPS) * w + b


def standardize(x):
    return (x - x.mean()) / x.std()


def clashing_names(row, mask_ptr):
    cols = np.exp(row - np.max(row))
    mask = cols / np.sum(cols)
    return mask * mask_ptr


def with_branch(x, flag):
    if flag > 0:
        y = x * 2.0
    else:
        y = x
    return y


def formula(x, y):
    a = np.sin(x) * np.cos(y) + np.sqrt(x * x + 1.0) + np.clip(x, -0.5, 0.5)
    b = np.logaddexp(x, y) + np.square(y) + np.reciprocal(2.0 + np.cosh(x)) + np.sinh(y) * 0.1
    c = np.exp2(x) + np.log2(2.0 + y * y) + np.log10(3.0 + x * x) + np.expm1(y) + x ** 3 - 1.0 / (1.0 + y ** 2)
    return a * b + c + np.minimum(x, y) + max(x, y) * np.abs(x)


# ---- wide rows (tests/test_triton_wide.py) -----------------------------------------------------------
def row_max(x):
    return np.max(x)


def scaled_logsumexp(x, w):
    # the online form does not apply (the sum is not exp(x - max x)): one more pass
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m) * w))


# ---- tuple outputs ------------------------------------------------------------------------------------
def add_rmsnorm(x, residual, w):
    # fused add + RMSNorm: the normalised sum and the new residual stream, each with its own cotangent
    h = x + residual
    return h / np.sqrt(np.mean(h * h) + EPS) * w, h


def softmax_and_lse(x):
    # a block and a per-row scalar
    m = np.max(x)
    e = np.exp(x - m)
    s = np.sum(e)
    return e / s, m + np.log(s)


def swish_pair(a, b):
    # elementwise: two outputs of the broadcast shape
    s = a / (1.0 + np.exp(-b))
    return s, s * b


def plus_bias(x, b):
    # the backward reads no argument (dx = g, db = sum of g)
    return x + b


def half_split(x):
    # a static slice of the row (backends/triton_slices)
    a = x[..., :4]
    return np.sum(a * a) + np.sum(x)


def per_row_slice(x, t):
    # a slice bound that differs per row: refused, naming the line
    a = x[..., :t]
    return np.sum(a * a)


def scaled_row_sum(x, beta):
    # the scalar's gradient is a per-row scalar (not a block) summed over rows
    return np.sum(x * x) * beta


# ---- static slices of the row (tests/test_triton_slices.py) ------------------------------------------
def rope_halves(x, cos, sin):
    # rotary embedding, GPT-NeoX style: rotate the two halves of the row
    d = x.shape[-1] // 2
    x1 = x[..., :d]
    x2 = x[..., d:]
    rot = np.concatenate([-x2, x1], axis=-1)
    return x * cos + rot * sin


def even_odd(x):
    a = x[..., ::2]
    b = x[..., 1::2]
    return np.sum(a * a) + np.sum(np.exp(b)) * np.mean(a)


def glu_halves(x, w):
    # GLU on the two halves, normalised by the first half's max; per-column weights sliced too
    h = x.shape[-1] // 2
    a = x[..., :h] * w[..., :h]
    b = x[..., h:]
    return np.sum(a / (1.0 + np.exp(-b))) + np.max(a)


# ---- masks within a row and per-row float inputs (tests/test_triton_masks.py) ------------------------
def prefix_softmax(x, k):
    # softmax over the first k columns of each row (k: one float per row, shape (..., 1)): a causal mask
    z = np.where(np.arange(x.shape[-1]) < k, x, -np.inf)
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def window_sum(x, lo, hi):
    # the columns lo <= c < hi of each row, weighted by their position
    c = np.arange(x.shape[-1])
    inside = (c >= lo) & (c < hi)
    return np.sum(np.where(inside, x * (c + 1.0), 0.0))


def modulated_rmsnorm(x, w, scale, shift):
    # per-row modulation (adaptive norm): scale and shift of shape (..., 1), differentiable
    ms = np.mean(x * x)
    return x / np.sqrt(ms + EPS) * w * (1.0 + scale) + shift


def strided_positions(x):
    # np.arange(start, stop[, step]) against the row: positions from 2, reversed positions
    p = np.arange(2, x.shape[-1] + 2)
    return np.sum(np.where(p > 4, x, 0.0)) + np.sum(x * np.arange(x.shape[-1], 0, -1))
