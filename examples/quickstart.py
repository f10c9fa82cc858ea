"""retrograd quick start: differentiate a tiny NumPy model and look at the code retrograd wrote.

    python -m pip install -q -e . && python examples/quickstart.py

The loss below is plain Python + NumPy.  ``@rg.differentiate`` reads its source, and generates a new
Python function that computes the forward pass and then walks it backwards (the adjoint).  The
generated code is ordinary Python you can read (``loss.source``), step through in a debugger, or
print with ``retrograd show examples/quickstart.py:loss``.

The script checks the gradient against central finite differences in float64 and exits with
status 1 if the largest relative error exceeds 1e-6.
"""

import sys

import numpy as np

import retrograd as rg


def predict(W, b, x):
    """A tanh layer followed by a sum over its units (a helper: retrograd differentiates it too)."""
    h = np.tanh(x @ W + b)
    return np.sum(h, axis=1)


@rg.differentiate(wrt=("W", "b"))
def loss(W, b, x, y):
    """Mean squared error of a one-hidden-layer tanh regression model."""
    pred = predict(W, b, x)
    err = pred - y
    return np.mean(err**2)


def finite_differences(f, args, index, eps=1e-6):
    """Central differences of the scalar f(*args) with respect to args[index], entry by entry."""
    args = list(args)
    base = np.array(args[index], dtype=np.float64)
    grad = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[i] += eps
        minus[i] -= eps
        args[index] = plus
        f_plus = f(*args)
        args[index] = minus
        f_minus = f(*args)
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def max_relative_error(analytic, numeric):
    """max |analytic - numeric| / max(|analytic|, |numeric|), with a floor for entries near zero."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1e-3)
    return float(np.max(np.abs(analytic - numeric) / scale))


def main():
    rng = np.random.default_rng(0)
    n_samples, n_in, n_hidden = 16, 3, 4
    W = rng.normal(scale=0.5, size=(n_in, n_hidden))
    b = rng.normal(scale=0.1, size=n_hidden)
    x = rng.normal(size=(n_samples, n_in))
    y = rng.normal(size=n_samples)

    print("=== generated source (primal + adjoint) ===")
    print(loss.source)

    value = loss(W, b, x, y)  # the forward result, exactly like the undecorated function
    value2, (dW, db) = loss.value_and_grad(W, b, x, y)
    print(f"loss = {value:.12f}")
    assert np.isclose(value, value2), (value, value2)
    assert dW.shape == W.shape and db.shape == b.shape

    # Calling `loss` runs the original NumPy code, so it is what the finite differences evaluate.
    fd_W = finite_differences(loss, (W, b, x, y), 0)
    fd_b = finite_differences(loss, (W, b, x, y), 1)

    err_W = max_relative_error(dW, fd_W)
    err_b = max_relative_error(db, fd_b)
    err = max(err_W, err_b)
    print("dloss/dW =")
    print(dW)
    print("dloss/db =", db)
    print(f"max relative error vs central finite differences: dW {err_W:.2e}, db {err_b:.2e}")

    # The same gradient through the pullback (vector-Jacobian product) entry point.
    out, pullback = loss.vjp(W, b, x, y)
    vjp_W, vjp_b = pullback(1.0)
    np.testing.assert_allclose(vjp_W, dW, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(vjp_b, db, rtol=1e-12, atol=1e-14)

    if err > 1e-6:
        print(f"FAIL: max relative error {err:.2e} > 1e-6", file=sys.stderr)
        return 1
    print("OK: gradient matches finite differences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
