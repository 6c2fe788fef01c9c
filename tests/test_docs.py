"""The generated parts of docs/ match the code."""

from archspec.docgen import stale_pages
from archspec.layers import REGISTRY
from tests.conftest import ROOT


def test_generated_doc_sections_are_up_to_date():
    assert stale_pages(ROOT / "docs") == [], "run: python -m archspec.docgen"


def test_every_layer_type_is_documented():
    text = (ROOT / "docs" / "spec-format.md").read_text()
    for name in REGISTRY:
        assert f"{name}" in text


def test_a_spec_loads_only_the_layer_modules_it_uses():
    import subprocess
    import sys

    code = ("import sys, archspec; archspec.analyze('specs/alexnet.yaml'); "
            "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('archspec.layers.')))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "attention" not in loaded and "recurrent" not in loaded and "conv" in loaded
