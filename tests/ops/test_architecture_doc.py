"""docs/architecture.md's domain graph is generated from the import-linter contract and the code's imports
(docs/domain_graph.py); it must be the script's current output, so the picture never drifts from the code."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _graph_module():
    spec = importlib.util.spec_from_file_location("domain_graph", ROOT / "docs" / "domain_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_domain_graph_in_the_docs_is_generated_from_the_contract_and_the_code():
    graph = _graph_module()
    doc = graph.current_block(graph.ARCHITECTURE.read_text())
    assert doc is not None, "docs/architecture.md has no generated domain-graph block"
    assert doc == graph.markdown(graph.contract()), (
        "docs/architecture.md's domain graph is stale: run .venv/bin/python docs/domain_graph.py --write")


def test_every_domain_package_is_in_the_layers_contract():
    graph = _graph_module()
    named = {d for layer in graph.layers(graph.contract()) for d in layer}
    not_domains = ("management", "migrations", "models", "templatetags")  # Django's discovery packages
    packages = {f"recsys.{p.name}" for p in (ROOT / "recsys").iterdir()
                if (p / "__init__.py").exists() and p.name not in not_domains}
    assert packages | {"curation"} <= named, f"domains missing from the contract: {sorted(packages - named)}"
