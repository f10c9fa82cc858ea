"""Two numba-only rewrites of the generated code (issue 14), each checked against central differences, the
plain call and the python backend (check_grad does all three), and for its presence in the source:

- shape tapes (reverse/shape_tapes.py): an array the adjoint reads only for its shape is taped as its
  shape (`shape_token`), rebuilt by `from_token`; shapes that change from step to step must come back right;
- scatter-loop fission (reverse/fission.py): a stencil's element-loop adjoint split into one loop per
  offset; a loop of another shape must be left alone and stay right.
"""
import re

import numpy as np
import pytest

pytest.importorskip("numba")

import retrograd as rg  # noqa: E402
from fd import check_grad  # noqa: E402
import fd  # noqa: E402


@pytest.fixture(autouse=True)
def numba_everywhere(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    monkeypatch.setattr(fd, "BACKEND", "numba")


def _adjoint_source(f, wrt, args):
    d = rg.differentiate(f, wrt=wrt, backend="numba")
    d.grad(*args)
    src = d.source
    return src[src.index("def primal_"):src.index("def adjoint_")], src[src.index("def adjoint_"):src.index("def plain_")]


# ---- shape tapes ----------------------------------------------------------------------------------------

def spring(x, v, k, dt, n_steps):
    for step in range(n_steps):
        dx = x[1:] - x[:-1]
        t = k * (dx - 1.0)
        a = np.zeros_like(x)
        a[:-1] += t
        a[1:] -= t
        v = v + dt * a
        x = x + dt * v
    return np.sum(x * x)


def growing(x, c, n_steps):
    """`t` has another shape at every step: its token must bring back each step's shape."""
    acc = 0.0
    for step in range(n_steps):
        t = x[: step + 1] + c
        acc = acc + np.sum(t) * c
    return acc


def broadcast_up(h, m, b, n_steps):
    """`h` starts (1, 3) and is (4, 3) from the first step on: unbroadcast must sum the first step's
    cotangent back to (1, 3) from the restored shape."""
    for step in range(n_steps):
        h = h * 0.5 + m * b
    return np.sum(h * h)


def value_read(x, n_steps):
    """The old `x` is read for its values (`x * x`): it keeps the ordinary tape."""
    for step in range(n_steps):
        x = x * x * 0.5 + 0.1
    return np.sum(x)


def strided_view(x, c, n_steps):
    """`t` is a strided view (Numba layout "A"): its token rebuilds a C-ordered array of its shape."""
    s = 0.0
    for step in range(n_steps):
        t = x[::2]
        w = t + c
        s = s + np.sum(w) * c
        x = x * 0.9
    return s


def transposed(X, c, n_steps):
    """`w = X.T * c` is Fortran-ordered; read for its shape only, its tape holds shapes (a tape of the
    arrays themselves is refused by Numba's typed list of C-ordered arrays)."""
    s = 0.0
    for step in range(n_steps):
        t = X.T
        w = t * c
        s = s + np.sum(w)
        X = X + 0.1
    return s


R = np.random.default_rng(7)
SHAPE_CASES = {
    "strided_view": (strided_view, (R.normal(size=7), 0.3, 3), (0, 1)),
    "transposed": (transposed, (R.normal(size=(3, 2)), 0.3, 3), (0, 1)),
    "spring": (spring, (np.arange(6.0) + 0.1 * R.normal(size=6), np.zeros(6), 3.0, 0.01, 4), (0, 1, 2)),
    "spring_v_broadcast": (spring, (np.arange(5.0) + 0.1 * R.normal(size=5), np.zeros(1), 2.0, 0.02, 3), (0, 1, 2)),
    "spring_zero_steps": (spring, (np.arange(4.0), np.ones(4), 3.0, 0.01, 0), (0, 1, 2)),
    "spring_size1": (spring, (np.ones(1), np.ones(1), 3.0, 0.01, 3), (0, 1, 2)),
    "growing": (growing, (R.normal(size=5), 0.7, 5), (0, 1)),
    "broadcast_up": (broadcast_up, (R.normal(size=(1, 3)), R.normal(size=(4, 1)), R.normal(size=3), 3), (0, 1, 2)),
    "value_read": (value_read, (R.normal(size=4) * 0.5, 3), (0,)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shape_tapes_match_differences_and_python(name):
    f, args, wrt = SHAPE_CASES[name]
    check_grad(f, args, wrt)


def test_spring_tapes_shapes_of_what_the_adjoint_reads_for_shape():
    f, args, wrt = SHAPE_CASES["spring"]
    primal, adjoint = _adjoint_source(f, wrt, args)
    for name in ("x", "v", "a", "t"):                # read only by unbroadcast / reset_zeros / x[1:]
        assert f"{name}_tape.append(shape_token({name}))" in primal, name
        assert f"{name} = from_token({name}_tape.pop(), {name})" in adjoint, name
    assert "dx_tape.append(dx)" in primal            # dx's values are read: the array stays


def test_values_read_keep_the_array_tape():
    f, args, wrt = SHAPE_CASES["value_read"]
    primal, adjoint = _adjoint_source(f, wrt, args)
    assert "shape_token" not in primal and "x_tape.append(x)" in primal


# ---- scatter-loop fission -----------------------------------------------------------------------------------

def heat(u, c, n_steps):
    n = u.shape[0]
    for step in range(n_steps):
        un = np.zeros(n)
        for i in range(1, n - 1):
            un[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = un
    return np.sum(u * u)


def wide(u, a, b):
    """Offsets -2 and +2, two coefficients summed, a non-unit start."""
    n = u.shape[0]
    un = np.zeros(n)
    for i in range(2, n - 2):
        un[i] = a * u[i - 2] + u[i] * u[i] + b * u[i + 2]
    return np.sum(un * un)


def in_place(u, c):
    """The loop reads what it writes (`u[i - 1]` already updated): not a scatter of independent steps."""
    u = u.copy()
    for i in range(1, u.shape[0]):
        u[i] = u[i] + c * u[i - 1]
    return np.sum(u * u)


def stencil_2d(u, c):
    """A 2-D index: left alone."""
    n = u.shape[0]
    out = np.zeros_like(u)
    for i in range(1, n - 1):
        out[i, 0] = u[i - 1, 0] + c * u[i + 1, 1]
    return np.sum(out * out)


FISSION_CASES = {
    "heat": (heat, (np.sin(np.linspace(0.0, 3.0, 8)), 0.2, 3), (0, 1)),
    "heat_one_interior_point": (heat, (R.normal(size=3), 0.3, 2), (0, 1)),
    "heat_no_interior_point": (heat, (R.normal(size=2), 0.3, 2), (0, 1)),
    "wide": (wide, (R.normal(size=9), 0.4, -0.6), (0, 1, 2)),
    "wide_too_short": (wide, (R.normal(size=4), 0.4, -0.6), (0, 1, 2)),
    "in_place": (in_place, (R.normal(size=6), 0.5), (0, 1)),
    "stencil_2d": (stencil_2d, (R.normal(size=(5, 2)), 0.5), (0, 1)),
}


@pytest.mark.parametrize("name", sorted(FISSION_CASES))
def test_fission_matches_differences_and_python(name):
    f, args, wrt = FISSION_CASES[name]
    check_grad(f, args, wrt)


def _element_loops(adjoint):
    return len(re.findall(r"for i in range", adjoint))


def test_heat_adjoint_is_split_by_offset():
    f, args, wrt = FISSION_CASES["heat"]
    _, adjoint = _adjoint_source(f, wrt, args)
    assert _element_loops(adjoint) == 4          # offset 0, the sum into dc, offset -1, offset +1
    for stmt in ("du[i - 1] += ", "du[i + 1] += ", "dun[i] = 0.0"):
        assert adjoint.count(stmt) == 1, stmt
    # the zeroing of dun[i] comes in the last loop, after every loop that reads dun[i]
    assert adjoint.index("dun[i] = 0.0") > adjoint.rindex("for i in range")


def test_loops_of_another_shape_are_not_split():
    for name in ("in_place", "stencil_2d"):
        f, args, wrt = FISSION_CASES[name]
        _, adjoint = _adjoint_source(f, wrt, args)
        assert _element_loops(adjoint) == 1, name


# ---- peepholes on parts of a cotangent (reverse/simplify.py), both backends ---------------------------------

def parts(x, c, n_steps):
    """`a[:-1] += t` (its part's cotangent read once, by arithmetic: no snapshot) and `a[1:] -= t` (the
    negated part: `d[1:] -= ...` instead of `d[1:] += unbroadcast(-g, ...)`), t broadcast from a scalar."""
    s = 0.0
    for step in range(n_steps):
        t = x[1:] * c
        a = np.zeros_like(x)
        a[:-1] += t
        a[1:] -= t
        a[2:] += c
        s = s + np.sum(a * a * x)
        x = x + 0.1 * a
    return s


def part_kept(x, c):
    """The part's cotangent is read by an `unbroadcast` that is not inside arithmetic: the copy stays."""
    a = np.zeros_like(x)
    a[1:] = a[1:] + c * x[:-1]
    b = a * a
    return np.sum(b * x)


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("name", ["parts", "part_kept"])
def test_part_peepholes_match_differences(name, backend, monkeypatch):
    monkeypatch.setattr(fd, "BACKEND", backend)
    R2 = np.random.default_rng(11)
    f, args = {"parts": (parts, (R2.normal(size=6), 0.7, 3)), "part_kept": (part_kept, (R2.normal(size=5), 0.4))}[name]
    check_grad(f, args, (0, 1))


def test_spring_adjoint_copies_no_part_and_negates_no_cotangent():
    f, args, wrt = SHAPE_CASES["spring"]
    _, adjoint = _adjoint_source(f, wrt, args)
    assert "snapshot(" not in adjoint and "unbroadcast(-ddx" not in adjoint
    assert "dx_2[:-1] -= unbroadcast(ddx, x[:-1])" in adjoint
