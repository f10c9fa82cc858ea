"""README.md's "Supported Python" rule list is generated from the rule table (tools/list_rules.py)."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_rule_list_is_up_to_date():
    pytest.importorskip("scipy")           # the list includes scipy.special, registered only with SciPy
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import list_rules
    finally:
        sys.path.pop(0)
    text = open(os.path.join(ROOT, "README.md")).read()
    assert list_rules.rewrite(text) == text, "run: python tools/list_rules.py --markdown"


def test_rule_count_is_at_least_200():
    from retrograd.reverse.rules import registry
    rules = set(registry.RULES.values()) | set(registry.METHODS.values()) | set(registry.ATTRIBUTES.values())
    pytest.importorskip("scipy")
    assert len(rules) >= 200
