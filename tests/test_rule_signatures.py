"""Every call NumPy accepts binds to a rule's template the way it binds to NumPy's own function.

A template's signature is written by hand; where it differs from NumPy's, a valid call can bind an
argument to the wrong parameter and the rule then differentiates another call: `np.gradient(f, 0.5, x)`
took the second spacing for `axis`, `np.take(a, i, 0, out)` took `out` for `mode` (a silently wrong
gradient).  Checked against `inspect.signature` of each registered function that has one."""
import inspect

import numpy as np
import pytest

import retrograd as rg
from fd import check_grad
from retrograd.reverse.rules import registry


def _registered():
    seen = {}
    for f in registry._KEEP:
        rule = registry.RULES.get(id(f))
        if rule is None:
            continue
        try:
            sig = inspect.signature(f)
        except (TypeError, ValueError):
            continue
        seen[f"{getattr(f, '__module__', '?')}.{getattr(f, '__name__', f)}:{rule.name}"] = (sig, rule)
    return seen


RULES = _registered()
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def test_there_are_signatures_to_check():
    assert len(RULES) > 100


@pytest.mark.parametrize("name", sorted(RULES))
def test_positional_arguments_bind_as_in_numpy(name):
    sig, rule = RULES[name]
    theirs = list(sig.parameters.values())
    ours = [p for p in rule.signature.parameters.values() if p.kind in POSITIONAL]
    star = next((i for i, p in enumerate(theirs) if p.kind == p.VAR_POSITIONAL), None)
    if star is not None:
        # NumPy's *args take every positional from `star` on: a template slot named after a NumPy
        # parameter that follows *args would receive one of them
        after = {p.name for p in theirs[star + 1:]}
        assert not after & {p.name for p in ours[star:]}, f"{name}: {sorted(after & {p.name for p in ours})}"
        return
    positional = [p for p in theirs if p.kind in POSITIONAL]
    names = {p.name for p in theirs}
    for i, (mine, np_p) in enumerate(zip(ours, positional)):
        assert np_p.name != "out" or mine.name == "out", f"{name}: NumPy's position {i} is `out`, ours {mine.name}"
        assert mine.name == np_p.name or mine.name not in names, \
            f"{name}: position {i} is NumPy's `{np_p.name}` but the template's `{mine.name}`"


def gradient_two_spacings(F):
    return np.sum(np.gradient(F, 0.5, np.array([0.0, 1.0, 3.0, 3.5]))[1] ** 2)


def take_into_out(a):
    out = np.empty(2)
    np.take(a, np.array([0, 2]), 0, out)
    return np.sum(out * a[:2])


def einsum_five_operands(a):
    return np.einsum("i,i,i,i,i->", a, a, a, a, a * 2.0)


@pytest.mark.parametrize("f", [gradient_two_spacings, take_into_out, einsum_five_operands],
                         ids=lambda f: f.__name__)
def test_calls_the_templates_do_not_cover_are_refused_at_their_line(f):
    with pytest.raises(rg.RetrogradError) as err:
        rg.grad(f)(np.ones((3, 4)) if f is gradient_two_spacings else np.array([0.3, 0.7, 1.1]))
    assert err.value.lineno is not None and err.value.filename == __file__


def vecdot_and_take(a):
    return np.sum(np.vecdot(a, a[::-1])) + np.sum(np.take(a, np.array([2, 0]), 0, None, "clip") ** 2)


def test_the_keyword_forms_still_work():
    check_grad(vecdot_and_take, [np.array([0.3, 0.7, 1.1])])
