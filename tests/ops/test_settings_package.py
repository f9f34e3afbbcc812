"""The settings package (config/settings/) stays what its docstring says: one module per concern, each saying in
its first line what it holds; every environment variable read in exactly one place; production values only (no
test switches: tests/settings.py sets the test run's own); nothing made on disk and no domain code imported.

Pure file parsing (ast), like tests/ops/test_docs.py: no database, no Django setup.
"""
from __future__ import annotations

import ast
from collections import Counter

from recsys.ml.events import DEFAULT_WEIGHTS, weight_setting_name
from tests.ops.test_docs import ROOT, SETTINGS_MODULES, env_uses

SETTINGS_DIR = ROOT / "config" / "settings"
DOMAIN_PACKAGES = {"recsys", "curation", "tests"}


def _tree(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _shown(path) -> str:
    return str(path.relative_to(ROOT))


def test_every_module_says_in_one_line_what_it_holds():
    for path in SETTINGS_MODULES:
        doc = ast.get_docstring(_tree(path))
        assert doc and doc.splitlines()[0].strip(), f"{_shown(path)} has no docstring saying what it holds"


def test_every_environment_variable_is_read_in_exactly_one_place():
    uses = Counter(name for path in SETTINGS_MODULES for name, _ in env_uses(path))
    assert uses["DATABASE_URL"] == 1 and uses["CURIO_WEIGHT_PURCHASE"] == 1  # the collector sees the modules
    assert not [name for name, count in uses.items() if count > 1], (
        f"read more than once in config/settings/: {sorted(n for n, c in uses.items() if c > 1)}")


def test_no_domain_code_no_test_switch_and_no_folder_made_at_import():
    for path in SETTINGS_MODULES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").split(".")[0]}
            else:
                roots = set()
            assert not roots & DOMAIN_PACKAGES, f"{_shown(path)}:{node.lineno} imports {roots & DOMAIN_PACKAGES}"
            assert not (isinstance(node, ast.Name) and "TESTING" in node.id), (
                f"{_shown(path)}:{node.lineno}: a test switch in production settings (set it in tests/settings.py)")
            assert not (isinstance(node, ast.Constant) and node.value == "CURIO_TESTING"), (
                f"{_shown(path)}:{node.lineno}: a test switch in production settings (set it in tests/settings.py)")
            assert not (isinstance(node, ast.Attribute) and node.attr in {"mkdir", "makedirs"}), (
                f"{_shown(path)}:{node.lineno} makes a folder at import (config/runtime_dirs.py makes them at start)")


def test_event_weight_defaults_match_the_vocabulary():
    """TRAINING_EVENT_WEIGHTS lists each event type as plain data (no import of recsys.ml.events): one entry per
    type of the vocabulary, read from CURIO_WEIGHT_<TYPE>, defaulting to the type's weight."""
    tree = _tree(SETTINGS_DIR / "training.py")
    [weights] = [node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "TRAINING_EVENT_WEIGHTS" for t in node.targets)]
    entries = {}
    for key, value in zip(weights.keys, weights.values, strict=True):
        assert isinstance(value, ast.Call) and value.func.id == "env_float", ast.unparse(value)
        name, default = (ast.literal_eval(arg) for arg in value.args)
        assert name == weight_setting_name(key.value), f"{key.value}: reads {name}"
        entries[key.value] = default
    assert entries == DEFAULT_WEIGHTS
    assert list(entries) == list(DEFAULT_WEIGHTS)  # the vocabulary's order
