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
