"""`archspec report`: one self-contained HTML page, parsed here as a browser's parser would."""

import importlib.util
import shutil
from html.parser import HTMLParser

import pytest

import archspec
from archspec import diagram
from archspec.cli import main
from tests.conftest import ROOT, SPECS


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.external, self.headings, self._in_h2, self.open = [], [], [], False, []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ("br", "meta", "path", "line", "rect", "marker", "defs") and not tag.startswith("!"):
            self.open.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data.split(" (")[0])
            self._in_h2 = False


def test_the_page_is_self_contained_and_complete(tmp_path, capsys):
    out = tmp_path / "resnet18.html"
    assert main(["report", str(SPECS / "resnet18.yaml"), "-o", str(out), "--dtype", "bf16"]) == 0
    page = _Page()
    page.feed(out.read_text())
    assert page.external == []  # nothing fetched from the network
    assert page.headings == ["Summary", "Architecture", "Layers", "Memory"]
    nodes, _ = diagram.graph(archspec.analyze(SPECS / "resnet18.yaml"), depth=1)
    assert page.tags.count("rect") == len(nodes) and page.tags.count("svg") == 1
    assert page.tags.count("details") == 4
    text = out.read_text()
    assert "11,689,512" in text and "training, bf16, adam" in text
    assert [t for t in page.open if t not in ("html", "body")] == []  # every element closed


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("google-chrome") is None,
                    reason="no Chromium on the PATH (apt-get install chromium): the page is not opened in a browser here")
def test_the_page_renders_offline_in_headless_chromium(tmp_path):
    """benchmarks/check_report_browser.py on one spec with free symbols (formulas in the summary,
    the memory rows and a diagram box; an arrow that skips a row): no console error and no
    network, the figures of `archspec analyze --format json`, the rows, the diagram's boxes, the
    blocks opened and closed by clicks, a screenshot."""
    path = ROOT / "benchmarks" / "check_report_browser.py"
    spec = importlib.util.spec_from_file_location("check_report_browser", path)
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    target, label, sets = check.parse_spec("gpt2:B=null,L=null")
    with check.Chromium(check.find_chromium()) as browser:
        assert check.check(browser, target, label, sets, tmp_path) == []
    assert (tmp_path / f"{label}.png").read_bytes().startswith(b"\x89PNG")
