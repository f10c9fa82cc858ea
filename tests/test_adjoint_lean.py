"""Leaner adjoints, checked against central differences on both backends:

- `A[I] = A[I] + e` (and `-`, `e + A[I]`, augmented forms): the part's cotangent stays in dA[I]; nothing
  is reset, and the old part is not restored from a tape (transform._part_increment);
- shape-only arguments of `unbroadcast` / `unreduce` read a smaller expression of the same shape
  (`unbroadcast(g, dt * v)` -> `unbroadcast(g, v)`, kinds.shape_witness), never one of another shape.
"""
import numpy as np
import pytest

import retrograd as rg
from fd import check_grad
import fd

def _backends():
    try:
        import numba  # noqa: F401
        return ["python", "numba"]
    except ImportError:
        return ["python"]


@pytest.fixture(params=_backends())
def backend(request, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    monkeypatch.setattr(fd, "BACKEND", request.param)
    return request.param


def parts_1d(x, t, s):
    a = np.zeros_like(x)
    a[:-1] += t * x[1:]
    a[1:] -= t
    a[0:1] = a[0:1] + s * x[2:3]        # a one-element part
    a[::-2] = x[::2] * 0.5 + a[::-2]      # e + A[I], a negative step
    a[-1] += s * s                        # a scalar element, a negative index
    a[5:] += x[5:]                        # empty on a length-5 x
    return np.sum(a * a * x)


def parts_2d(A, row, col, b):
    B = A * 1.0
    B[1] -= row                   # a row
    B[:, 0] += col * B[0, 1]      # a column, the value reading another element of B: general path
    B[1:, :] += b                 # b (1, m) broadcast over the rows of the part
    B[0, 1:3] = B[0, 1:3] + np.ones((1, 2)) * row[0]   # a value with a leading length-1 axis
    return np.sum(np.sin(B))


def part_reads_itself(x):
    a = x * 2.0
    a[1:] += a[:-1]               # e reads A: not an increment (general path)
    a[:2] = a[:2] - 3.0 * a[2:4]
    return np.sum(a * a)


def witness(x, v, dt, c0):
    y = x + dt * v                # x (n, 1), v (n,): broadcast to (n, n); dv's shape is v's
    z = y * np.sin(dt) + c0 * v   # c0 a 0-d array: a scalar kind
    w = -(dt * x)                 # (n, 1)
    return np.sum(z * z) + np.sum(w * y) + np.sum(dt * dt * v)


def loop_parts(x, t, n_steps):
    for step in range(n_steps):
        a = np.zeros_like(x)
        a[:-1] += t * x[1:]
        a[1:] -= t * x[:-1]
        x = x + 0.1 * a
    return np.sum(x * x)


R = np.random.default_rng(7)
CASES = {
    "parts_1d": (parts_1d, (R.normal(size=5), R.normal(size=4), 0.7), (0, 1, 2)),
    "parts_2d": (parts_2d, (R.normal(size=(3, 4)), R.normal(size=4), R.normal(size=3), R.normal(size=(1, 4))),
                 (0, 1, 2, 3)),
    "part_reads_itself": (part_reads_itself, (R.normal(size=6),), 0),
    "witness": (witness, (R.normal(size=(3, 1)), R.normal(size=3), 0.3, np.array(1.5)), (0, 1, 2)),
    "loop_parts": (loop_parts, (R.normal(size=6), 0.8, 4), (0, 1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lean_adjoints_match_differences(name, backend):
    f, args, wrt = CASES[name]
    got = check_grad(f, args, wrt)
    if backend == "numba":
        ref = rg.differentiate(f, wrt=wrt).grad(*args)
        for a, b in zip(ref, got) if isinstance(ref, tuple) else [(ref, got)]:
            np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-13)


def _adjoint_source(name):
    f, args, wrt = CASES[name]
    d = rg.differentiate(f, wrt=wrt)
    d.grad(*args)
    return d.source.split("def adjoint_")[1]


def test_increments_of_parts_keep_no_part_tape():
    src = _adjoint_source("loop_parts")
    assert "a_parts" not in src and "unflat(" not in src        # the parts of `a` are not restored
    assert "da[:-1] = 0.0" not in src and "da[1:] = 0.0" not in src


def test_shape_witness_builds_no_temporary():
    src = _adjoint_source("witness")
    code = "\n".join(ln for ln in src.splitlines() if "# grad of" not in ln)
    assert "unbroadcast(dy, v)" in code and "dt * v)" not in code


def growing(x, n_steps):
    """The state changes shape every step: a reused cotangent buffer must not be zeroed at the wrong shape."""
    for step in range(n_steps):
        y = np.zeros_like(x)
        y[1:] += x[:-1] * x[1:]
        x = np.concatenate((y, x[:1] * 0.5))
    return np.sum(x * x)


def shared_cotangent(x, n_steps):
    """`x = x + x * 0.1` reads x twice: its cotangent is held under two names in the step's adjoint."""
    for step in range(n_steps):
        a = np.zeros_like(x)
        a[:] += np.sin(x)
        x = x + a * 0.1
    return np.sum(x * x)


def shrinking(x, n_steps):
    """Known ranks, shapes that change every step: `reset_zeros` must not reuse a buffer of another shape."""
    for step in range(n_steps):
        a = np.zeros_like(x)
        a[1:] += np.sin(x[:-1])
        x = (x + a * 0.5)[1:]
    return np.sum(x * x)


CASES.update({
    "growing": (growing, (R.normal(size=3), 3), 0),
    "shrinking": (shrinking, (R.normal(size=6), 4), 0),
    "shared_cotangent": (shared_cotangent, (R.normal(size=4), 3), 0),
})


def test_reused_buffers_only_where_unshared():
    src = _adjoint_source("loop_parts")
    assert "da = reset_zeros(da, a)" in src             # da: never read through another name
    assert "dx = reset_zeros" not in src               # dx: `dx_out = dx` holds its buffer too
    src = _adjoint_source("shrinking")
    assert "da = reset_zeros(da, a)" in src            # and correct though the shapes change (the fd test)


@pytest.mark.parametrize("name", ["growing", "shrinking", "shared_cotangent"])
def test_reused_buffers_match_differences(name, backend):
    if name == "growing" and backend == "numba":
        with pytest.raises(rg.RetrogradError, match="cannot tell the type of `y`"):   # np.concatenate's rank
            test_lean_adjoints_match_differences(name, backend)
        return
    test_lean_adjoints_match_differences(name, backend)


def self_sums(x, v, n_steps):
    """`x = x + e` for an array whose cotangent is updated in place (x is written into)."""
    for step in range(n_steps):
        x[0] = x[0] * 0.5
        x = x + 0.1 * v
        x = np.cos(v) * 0.3 + x
        x = x - v * x[1]            # e reads x: the general path
    return np.sum(x * x)


def self_sum_broadcast(x, v, w):
    x[0] = x[0] * 2.0
    x = x + v                       # x (1,) is broadcast to v's (3,): dx is summed back
    x = x - 0.5 * v
    x = x + w * 2.0                 # w (1,) is broadcast to x's (3,): dw is summed
    return np.sum(x * x)


@pytest.mark.parametrize("f,args", [
    (self_sums, (R.normal(size=4), R.normal(size=4), 3)),
    (self_sum_broadcast, (R.normal(size=1), R.normal(size=3), R.normal(size=1))),
])
def test_sums_with_self_match_differences(f, args, backend):
    wrt = tuple(range(len(args)))[:3 if f is self_sum_broadcast else 2]
    got = check_grad(f, args, wrt)
    if backend == "numba":
        ref = rg.differentiate(f, wrt=wrt).grad(*args)
        for a, b in zip(ref, got):
            np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-13)
    d = rg.differentiate(f, wrt=wrt)
    d.grad(*args)
    assert "dx = unbroadcast(dx_out" in d.source       # no zeros_like + add_into for the old x
