"""Programs an adversarial review of rematerialisation found wrong or crashing (all fixed): the
regression corpus of tests/test_remat.py::test_review_findings."""
import numpy as np

def hk(x, k):
    return np.sin(x * k)

# A: loop variable's pre-loop value needed by an earlier adjoint
def A_loopvar(x, n):
    i = 2.0
    y = x * i
    for i in range(n):
        x = np.sin(x) * 1.1 + i * 0.01
    return y + x * i

# A': same, body made "profitable" so recompute applies
def A_loopvar_rc(x, n):
    i = 2.0
    y = x * i
    for i in range(n):
        a = np.sin(x)
        b = a * a
        c = np.cos(b) * a
        x = c * 1.1 + i * 0.01
    return y + x * i

# H: nested loop variable (recompute, nested remat)
def H_nested_loopvar(x, n):
    j = 0
    for i in range(n):
        y = x * (j + 1.0)
        for j in range(3):
            a = np.sin(x)
            b = a * a
            x = np.cos(b) * a + y * 0.1
    return x

# B: carried var read only by a while test in the body
def B_while(x, n):
    k = 0.0
    for i in range(n):
        j = 0
        while j < k:
            x = np.sin(x) * 1.1
            j = j + 1
        k = k + 1.0
    return x

# C: carried var read only by a helper call whose result is unused by the adjoint
def C_helper_state(x, n):
    k = 1.0
    e = 0.0
    for i in range(n):
        y = hk(x, k)
        e = e + y
        k = k + 1.0
        x = x * 0.9 + 0.05
    return e + x

# D: random draws re-drawn by re-runs
def D_random(x, n):
    for i in range(n):
        x = np.sin(x) * np.random.uniform(0.5, 1.5)
    return x

# E: value-level recompute reads a parameter written in place later
def E_param_written(x, w):
    y = np.sin(x) * 2.0
    z = y * w
    x[0] = 0.0
    return np.sum(z) + np.sum(x * x)

# F: value-level recompute through a parameter reassigned once at top level
def F_param_reassigned(x, w):
    y = np.sin(x * w)
    z = y * w
    x = x * 2.0
    return np.sum(z) + x * x

def F2_self_ref(x, w):
    x = x * 2.0
    return np.sum(x * w)

# G: recompute: outer loop dropped as unprofitable, nested loop kept as "nested" -> NameError
def G_outer_dropped(x, y, z, w, v, u, n):
    for i in range(n):
        for j in range(3):
            a = np.sin(x)
            x = a * x
            a = np.cos(x)
            x = a * x + 0.5
        y = y + x
        z = z + y
        w = w + z
        v = v + w
        u = u + v
    return x + y + z + w + v + u

# I: numba + recompute, array temporaries in the loop body
def I_numba_arrays(u, c, n):
    for s in range(n):
        v = np.sin(u) * c
        u = u * 0.9 + v
    return np.sum(u * u)


# not a remat bug: a write through an alias of a value an earlier adjoint reads
def alias_write(x, w):
    y = np.sin(x)
    z = y * w
    v = y
    v[0] = 0.0
    return np.sum(z) + np.sum(v * w)
