"""Numbers that would explode: each is refused with a clean, located error before it is
computed (issue: hostile and huge inputs), and never reaches "this is a bug in archspec"."""

import pytest

from archspec.cli import main

SPEC = """params: {B: 1, k: 3}
inputs: {x: {shape: [B, 3, 32, 32]}}
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: k}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(SPEC)
    return path


def _run(capsys, *args):
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "bug in archspec" not in err
    return code, err


@pytest.mark.parametrize("binding, message", [
    ("B=1e99999999", "out of range"),            # a literal expanded exactly would hang
    ("B=(1/3)**-(10**60)", "too large"),          # the denominator grows with the power
    ("k=0.5**(10**9)", "too large"),              # 9-17 s and 446 MB before
    ("B=2**128*2**128*2**128", "257 bits"),       # each power under the cap, the product not
    ("B=(1/2)**30000", "too large"),
])
def test_exploding_bindings_are_refused(capsys, spec, binding, message):
    code, err = _run(capsys, "analyze", spec, "--set", binding)
    assert code == 1 and message in err and "--set" in err


@pytest.mark.parametrize("text, message", [
    ("params: {B: 1e4300}\ninputs: {x: {shape: [B, 3]}}\nlayers: [ReLU]\n", "out of range"),
    ("params: {B: " + "9" * 4301 + "}\ninputs: {x: {shape: [B, 3]}}\nlayers: [ReLU]\n", "4301 digits"),
    ("inputs: {x: {shape: [1, 3, 8]}}\nlayers: [{type: GRU, hidden_size: 4, num_layers: '4e400'}]\n", "out of range"),
    ("params: {B: 1, k: true}\ninputs: {x: {shape: [B, 3]}}\nlayers: [ReLU]\n", "found true"),  # not silently 1
    ("params: {B: 1, k: .inf}\ninputs: {x: {shape: [B, 3]}}\nlayers: [ReLU]\n", "finite"),
])
def test_exploding_literals_in_a_spec_are_located_errors(capsys, tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, err = _run(capsys, "analyze", path)
    assert code == 1 and message in err and f"{path}:" in err


def test_budgets_and_metrics_out_of_range(capsys, spec):
    code, err = _run(capsys, "fit", spec, "--for", "B", "--macs", "1e5000")
    assert code == 1 and "out of range" in err
    code, err = _run(capsys, "fit", spec, "--for", "B", "--macs", "1e70")
    assert code == 1 and "every B up to 2**62 fits" in err
    code, err = _run(capsys, "sweep", spec, "--metrics", ",", "--grid", "B=1,2")
    assert code == 1 and "names no metric" in err
    code, err = _run(capsys, "sweep", spec, "--grid", "B=9223372036854775808")
    assert code == 1 and "2**62" in err
