"""Architecture diagrams (archspec/diagram.py): the node and edge counts against the spec's own
top-level `from:` graph, read from the YAML by the test."""

import yaml
import pytest

import archspec
from archspec import diagram
from archspec.cli import main
from tests.conftest import SPECS


def _expected(spec_path):
    """Top-level nodes and edges from the YAML: each entry reads its `from:` (default: the entry
    before it); spec inputs are not nodes, a Parameter or Buffer reads nothing, an entry repeated
    0 times is not there."""
    data = yaml.safe_load(spec_path.read_text())
    params = data.get("params", {})
    entries = [{"type": e} if isinstance(e, str) else e for e in data["layers"]]
    names = [e.get("name") or f"{e['type'].lower()}_{i}" for i, e in enumerate(entries)]
    present = [params.get(e.get("repeat"), e.get("repeat", 1)) != 0 for e in entries]
    edges = set()
    for i, entry in enumerate(entries):
        if not present[i] or entry["type"] in ("Parameter", "Buffer"):
            continue
        sources = entry.get("from", names[i - 1] if i else None)
        for source in [sources] if isinstance(sources, str) else (sources or []):
            source = source.split(".")[0]
            if source in names:
                edges.add((sum(present[: names.index(source)]), sum(present[:i])))
    return sum(present), edges


@pytest.mark.parametrize("spec", ["alexnet", "resnet18", "googlenet", "gpt2", "t5_small", "mamba_130m", "unet"])
def test_one_node_per_top_level_entry_and_the_specs_edges(spec):
    path = SPECS / f"{spec}.yaml"
    nodes, edges = diagram.graph(archspec.analyze(path), depth=1)
    count, expected = _expected(path)
    assert len(nodes) == count and set(edges) == expected


def test_mermaid_and_dot_text(capsys):
    assert main(["graph", str(SPECS / "resnet18.yaml"), "--depth", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("flowchart TD") and text.count("-->") == 10 and "layer1<br/>" in text
    assert main(["graph", str(SPECS / "alexnet.yaml"), "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "alexnet"') and dot.count("->") == dot.count("[label=") - 1


def test_an_image_without_graphviz_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(diagram.shutil, "which", lambda name: None)
    assert main(["graph", str(SPECS / "alexnet.yaml"), "-o", str(tmp_path / "x.svg")]) == 1
    assert "Graphviz" in capsys.readouterr().err
