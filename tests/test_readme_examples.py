"""The README's worked examples run as written: each ```python block after a `<!-- readme-example: NAME -->`
line is run as a module of its own (written to a file: retrograd reads functions' source), and what it
computed is checked against references that do not use retrograd (central differences of the plain
functions it defines)."""
import contextlib
import io
import os
import re

import numpy as np
import pytest

from fd import load_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BLOCK = re.compile(r"<!-- readme-example: (\w+) -->\n```python\n(.*?)\n```", re.S)


def examples():
    with open(os.path.join(ROOT, "README.md")) as fh:
        return dict(_BLOCK.findall(fh.read()))


def run_example(name, directory):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        mod = load_module(examples()[name], directory, prefix=f"readme_{name}")
    return vars(mod), out.getvalue()


def central_gradient(f, w, h=1e-6):
    g = np.zeros(w.size)
    for i in range(w.size):
        e = np.zeros(w.size)
        e[i] = h
        e = e.reshape(w.shape)
        g[i] = (f(w + e) - f(w - e)) / (2 * h)
    return g.reshape(w.shape)


def test_the_examples_are_found():
    assert {"newton", "has_aux"} <= set(examples())


def test_newton_example_converges_to_the_zero_of_the_gradient(tmp_path):
    ns, printed = run_example("newton", tmp_path)
    loss, X, y, w, w_cg, step = ns["loss"], ns["X"], ns["y"], ns["w"], ns["w_cg"], ns["step"]
    plain = lambda v: loss(v, X, y)     # noqa: E731
    # the point both methods reached is where the plain loss is flat (central differences, no retrograd)
    g_fd = central_gradient(plain, w)
    assert np.linalg.norm(g_fd) < 1e-8, g_fd
    np.testing.assert_allclose(w_cg, w, rtol=1e-9, atol=1e-12)
    # and it is a minimum: every direction goes up
    for d in np.eye(3):
        assert plain(w + 1e-3 * d) > plain(w) and plain(w - 1e-3 * d) > plain(w)
    # Newton is quadratic here: a handful of steps from zero, not the 20 allowed
    assert 3 <= step <= 8
    # the printed line is what the README says it prints
    assert printed.split()[0] == str(step)
    assert np.allclose(np.round(w, 3), [1.977, -2.771, 0.552], atol=1e-3)
    # the Hessian it used against second differences of the plain loss
    H = ns["hessian"](w, X, y)
    H_fd = np.array([central_gradient(lambda v: central_gradient(plain, v, 1e-4)[i], w, 1e-4) for i in range(3)])
    np.testing.assert_allclose(H, H_fd, rtol=1e-5, atol=1e-7)


def test_has_aux_example(tmp_path):
    ns, printed = run_example("has_aux", tmp_path)
    loss, W, x, y = ns["loss"], ns["W"], ns["x"], ns["y"]
    pred = np.tanh(x @ W)
    err = np.mean((pred - y) ** 2)
    assert ns["err"] == pytest.approx(err, rel=1e-14)
    np.testing.assert_array_equal(ns["aux"]["pred"], pred)
    assert ns["aux"]["rmse"] == pytest.approx(np.sqrt(err), rel=1e-14)
    g_fd = central_gradient(lambda v: loss(v, x, y)[0], W)
    np.testing.assert_allclose(ns["grads"], g_fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ns["dW"], g_fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ns["dx"], central_gradient(lambda v: loss(W, v, y)[0], x), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ns["dy"], central_gradient(lambda v: loss(W, x, v)[0], y), rtol=1e-6, atol=1e-9)
    assert ns["out"] == pytest.approx(err, rel=1e-14)
    assert printed.split()[-1] == "True"
