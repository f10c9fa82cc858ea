"""Matmul layers for the triton backend tests (a real file: Triton needs real source)."""
import numpy as np

GELU_C = 0.7978845608028654


# ---- tiled: h @ W and an elementwise epilogue --------------------------------------------------------------
def linear(h, W, b):
    return h @ W + b


def linear_nobias(h, W):
    return np.matmul(h, W)


def linear_gelu(h, W, b):
    z = h @ W + b
    return 0.5 * z * (1.0 + np.tanh(GELU_C * (z + 0.044715 * z ** 3)))


def linear_silu_gate(h, W, b, gate):
    z = h @ W + b
    return gate * z / (1.0 + np.exp(-z))


def linear_residual_relu(h, W, r, scale=0.5):
    z = h @ W
    return np.maximum(z, 0.0) * scale + r


def linear_softplus(h, W):
    z = np.dot(h, W)
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


# ---- rows: h @ W and reductions over N (fused linear + cross-entropy) ----------------------------------------
def linear_ce(h, W, target):
    z = h @ W
    m = np.max(z)
    lse = m + np.log(np.sum(np.exp(z - m)))
    return lse - z[target]


def linear_ce_bias_zloss(h, W, b, target, zw=1e-2):
    z = h @ W + b
    m = np.max(z)
    lse = m + np.log(np.sum(np.exp(z - m)))
    return lse - z[target] + zw * lse * lse


def linear_softmax(h, W):
    z = h @ W
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


# ---- refused --------------------------------------------------------------------------------------------------
def scaled_input(h, W):
    return (2.0 * h) @ W


def transposed_weight(h, W):
    return h @ W.T


def two_matmuls(h, W, V):
    return (h @ W) @ V


def input_in_epilogue(h, W):
    z = h @ W
    return z + h


def columns_sum(h, W):
    z = h @ W
    return np.sum(z, axis=0)


def linear_soft_ce(h, W, p):
    z = h @ W
    m = np.max(z)
    lse = m + np.log(np.sum(np.exp(z - m)))
    return lse * np.sum(p) - np.sum(p * z)


def linear_pair(h, W):
    z = h @ W
    return z, 2.0 * z


# ---- a global number read by the layer (inlined into the kernel): rebinding it must not leave a stale kernel --
SCALE = 2.0


def linear_scaled(h, W):
    return (h @ W) * SCALE


def linear_ce_scaled(h, W, target):
    z = h @ W
    m = np.max(z)
    return (m + np.log(np.sum(np.exp(z - m))) - z[target]) * SCALE


def rows_scaled(x):
    return (np.sum(x * x) + x) * SCALE
