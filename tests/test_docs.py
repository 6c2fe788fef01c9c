"""The generated parts of docs/ match the code."""

from archspec.docgen import GENERATED, stale_pages


def test_generated_doc_sections_are_up_to_date():
    assert stale_pages() == [], "run: python -m archspec.docgen"


def test_every_layer_type_is_documented():
    from archspec.docgen import DOCS
    from archspec.layers import REGISTRY

    text = (DOCS / "spec-format.md").read_text()
    for name in REGISTRY:
        assert name in text
    assert len(GENERATED) == 2
