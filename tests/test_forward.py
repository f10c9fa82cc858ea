"""Forward mode (rg.jvp, jacfwd, hvp, hessian): every case of the construct and NumPy-rule suites, checked
against central differences along a random direction and against the reverse transform (forward_check)."""
import numpy as np
import pytest

import retrograd as rg
import test_constructs as C
import test_numpy_rules as N
from forward_check import check_jvp

CONSTRUCT_CASES = C.ALL_CASES
RULE_CASES = N.BINARY + N.BROADCAST + N.LINALG + N.LINALG_MODULE


@pytest.mark.parametrize("f,make_args,wrt", CONSTRUCT_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CONSTRUCT_CASES)])
def test_jvp_constructs(f, make_args, wrt):
    check_jvp(f, make_args(), wrt, seed=3)


@pytest.mark.parametrize("f,make_args,wrt", RULE_CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(RULE_CASES)])
def test_jvp_numpy_rules(f, make_args, wrt):
    check_jvp(f, make_args(), wrt, seed=5)


@pytest.mark.parametrize("f,domain", N.UNARY, ids=[u[0].__name__ for u in N.UNARY])
def test_jvp_unary(f, domain):
    check_jvp(f, (N.unary_input(domain, 1),), 0, seed=7)
