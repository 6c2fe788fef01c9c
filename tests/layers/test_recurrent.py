"""RNN, LSTM, GRU: parameter counts against torch.nn's closed forms, MACs per gate and step."""

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import analyze_one

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def torch_params(kind, input_size, hidden, layers, bias, bidirectional, proj=0):
    """torch.nn's weights: weight_ih_l{k}[_reverse] (G*H, I_k), weight_hh (G*H, H_out),
    bias_ih and bias_hh (G*H each), and for a projected LSTM weight_hr (proj, H)."""
    g = GATES[kind]
    out = proj or hidden
    directions = 2 if bidirectional else 1
    count = 0
    for layer in range(layers):
        layer_input = input_size if layer == 0 else directions * out
        per_direction = g * hidden * layer_input + g * hidden * out + (2 * g * hidden if bias else 0) + proj * hidden
        count += directions * per_direction
    return count


@given(
    st.sampled_from(["RNN", "GRU", "LSTM"]),
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(1, 3),
    st.booleans(),
    st.booleans(),
    st.integers(1, 7),
    st.integers(1, 3),
)
def test_params_and_shapes_follow_torch(kind, input_size, hidden, layers, bias, bidirectional, steps, batch):
    layer = {"type": kind, "hidden_size": hidden, "num_layers": layers, "bias": bias, "bidirectional": bidirectional}
    row = analyze_one([steps, batch, input_size], layer)
    directions = 2 if bidirectional else 1
    assert row.params == torch_params(kind, input_size, hidden, layers, bias, bidirectional)
    assert row.output_shape == (steps, batch, directions * hidden)
    # every gate, every step: the matrix entries of W_ih and W_hh, once per time step and sample
    weights = row.params - (directions * layers * 2 * GATES[kind] * hidden if bias else 0)
    assert row.macs == steps * batch * weights


@given(st.integers(1, 16), st.integers(2, 16), st.data())
def test_projected_lstm(input_size, hidden, data):
    proj = data.draw(st.integers(1, hidden - 1))
    row = analyze_one([3, 2, input_size], {"type": "LSTM", "hidden_size": hidden, "proj_size": proj, "batch_first": True})
    assert row.params == torch_params("LSTM", input_size, hidden, 1, True, False, proj)
    assert row.output_shape == (3, 2, proj)


def test_lstm_2layer_matches_the_pytorch_measurement():
    # tests/reference/torch_measured.json: nn.LSTM(128, 256, num_layers=2, batch_first=True) has 921,600 params
    row = analyze_one([1, 50, 128], {"type": "LSTM", "hidden_size": 256, "num_layers": 2, "batch_first": True})
    assert (row.params, row.output_shape) == (921_600, (1, 50, 256))
