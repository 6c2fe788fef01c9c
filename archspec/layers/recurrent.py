"""Recurrent layers: RNN, LSTM, GRU (torch.nn's arguments and parameter layout)."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field

from archspec.dims import Value, ceildiv, definitely_equal, is_concrete, maximum
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import Count, Layer, Saved, Shape, Size, format_shape, real


class _Recurrent(Layer):
    """A stack of num_layers recurrent layers, each run over every time step, in one or two
    directions. Input (L, N, H_in), (N, L, H_in) with batch_first, or unbatched (L, H_in);
    output (.., L, D * H_out) with D = 2 if bidirectional and H_out = proj_size or hidden_size.

    With G gates (RNN 1, GRU 3, LSTM 4), per layer and direction, layer input size I
    (H_in for the first layer, D * H_out after):
    - params = G*H*I + G*H*H_out + (2*G*H with bias) [+ H_out*H for the LSTM projection]
    - MACs = N * L * (G*H*(I + H_out) [+ H*H_out]), every gate at every time step
    - other FLOPs = N * L * (G*H*(1 + 2 with bias) gate sums + H * the cell's elementwise ops:
      RNN 1 (tanh or relu), GRU 12, LSTM 15; see docs/counting.md)
    """

    input_size: Size | None = Field(None, description="inferred from the input's last dim; checked when given")
    hidden_size: Size
    num_layers: Size = 1
    bias: bool = True
    batch_first: bool = False
    dropout: real(0, 1) = Field(0.0, description="dropout between stacked layers in training (its masks are not counted)")
    bidirectional: bool = False

    gates: ClassVar[int] = 1
    cell_flops: ClassVar[int] = 1

    def _projection(self) -> Value:
        return 0

    def _out_size(self) -> Value:
        return self._projection() or self.hidden_size

    def _split(self, x: Shape) -> tuple[Value, Value, Value]:
        """(batch, steps, features)."""
        if len(x) == 2:
            return 1, x[0], x[1]
        if len(x) != 3:
            raise LayerError(f"expected (L, N, H_in), (N, L, H_in) with batch_first, or (L, H_in); got {format_shape(x)}")
        return (x[0], x[1], x[2]) if self.batch_first else (x[1], x[0], x[2])

    def output_shape(self, x: Shape) -> Shape:
        _, _, features = self._split(x)
        self.check_inferred("input_size", features)
        directions = 2 if self.bidirectional else 1
        return (*x[:-1], directions * self._out_size())

    def over_layers(self, features: Value, per_layer) -> Value:
        """Sum of per_layer(input size, is_first) over the stack: the first layer reads the
        input's features, every later one the previous layer's output (a closed form, so a
        huge or symbolic num_layers costs nothing)."""
        stacked = (2 if self.bidirectional else 1) * self._out_size()
        return per_layer(features, True) + (self.num_layers - 1) * per_layer(stacked, False)

    def _per_direction(self) -> int:
        return 2 if self.bidirectional else 1

    def param_count(self, x: Shape) -> Value:
        _, _, features = self._split(x)
        g, h, out = self.gates, self.hidden_size, self._out_size()
        per_layer = self.over_layers(
            features, lambda i, _: g * h * i + g * h * out + (2 * g * h if self.bias else 0) + self._projection() * h
        )
        return self._per_direction() * per_layer

    def macs(self, x: Shape, out: Shape) -> Value:
        batch, steps, features = self._split(x)
        g, h, rec = self.gates, self.hidden_size, self._out_size()
        per_step = self.over_layers(features, lambda i, _: g * h * (i + rec) + h * self._projection())
        return self._per_direction() * batch * steps * per_step

    # On CUDA (cuDNN, whose reserve space is library-internal) archspec counts what the
    # unfused cell keeps per hidden unit and step: the gate activations and the states the
    # derivative needs (RNN: h; GRU: 3 gates, the W_hn h part, h; LSTM: 4 gates, c, tanh(c), h).
    saved_per_unit: ClassVar[int] = 1

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        batch, steps, features = self._split(x)
        unfused = self._per_direction() * batch * steps * self.over_layers(
            features, lambda i, first: self.saved_per_unit * self.hidden_size + (0 if first else i)
        )
        on_cpu = self.saved_on_cpu(batch, steps, features)
        if on_cpu is None:
            return (Saved(input=0), Saved(numel=unfused))
        return (Saved(input=0), Saved(numel=unfused, device="cuda"), *(replace(item, device="cpu") for item in on_cpu))

    def saved_on_cpu(self, batch: Value, steps: Value, features: Value) -> tuple[Saved, ...] | None:
        """What PyTorch's CPU kernel keeps besides the input, when it differs from the unfused
        rule: ATen's cell loop for RNN and GRU, oneDNN's fused kernel for LSTM."""
        return None

    def _cell_loop(self, batch: Value, steps: Value, features: Value, per_step: int, initial: int) -> tuple[Saved, ...]:
        """ATen's CPU loop (RNN, GRU): per layer and direction `per_step` values per hidden unit
        and step, plus `initial` for the zero initial state; every later layer also keeps its
        input, the previous layer's outputs stacked (and concatenated over the directions)."""
        d, h = self._per_direction(), self.hidden_size
        kept = self.over_layers(features, lambda i, first: d * batch * (per_step * steps + initial) * h + (0 if first else steps * batch * i))
        # Each direction projects the whole input at once; a batch-first input is a transposed
        # view, non-contiguous unless the batch or the length is 1, which that matmul copies,
        # once per direction (the first direction's copy replaces the input, same bytes).
        transposed = self.batch_first and not (definitely_equal(batch, 1) or definitely_equal(steps, 1))
        copies = (Saved(numel=(d - 1) * steps * batch * features),) if transposed and d == 2 else ()
        return (Saved(numel=kept), *copies)

    def other_flops(self, x: Shape, out: Shape) -> Value:
        batch, steps, _ = self._split(x)
        g, h = self.gates, self.hidden_size
        per_step = g * h * (1 + (2 if self.bias else 0)) + h * self.cell_flops
        return self._per_direction() * self.num_layers * batch * steps * per_step


@register
class RNN(_Recurrent):
    __doc__ = _Recurrent.__doc__
    type: Literal["RNN"]
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    gates = 1
    cell_flops = 1

    def saved_on_cpu(self, batch: Value, steps: Value, features: Value) -> tuple[Saved, ...]:
        # h_t for every step (the activation's output and the next step's matmul input) and h_0
        return self._cell_loop(batch, steps, features, per_step=1, initial=1)


@register
class GRU(_Recurrent):
    __doc__ = _Recurrent.__doc__
    type: Literal["GRU"]
    gates = 3
    saved_per_unit = 5
    # r, z: sigmoid (3 each); n: r * (W_hn h + b_hn), tanh (2, its sum counted with the gates);
    # h' = (1 - z) * n + z * h (4)
    cell_flops = 12

    def saved_on_cpu(self, batch: Value, steps: Value, features: Value) -> tuple[Saved, ...]:
        # ATen's gru_cell per step: h_{t-1}, the hidden-side gates (3H, r and z are views of
        # it), the copy of W_hn h + b_hn that the in-place r * (.) overwrites, n, and h - n,
        # copied before the in-place multiply by z (which turns it into h_t)
        return self._cell_loop(batch, steps, features, per_step=7, initial=0)


@register
class LSTM(_Recurrent):
    __doc__ = _Recurrent.__doc__
    type: Literal["LSTM"]
    proj_size: Count = Field(0, description="project h to this size (0: no projection)")
    gates = 4
    saved_per_unit = 7
    # i, f, o: sigmoid (3 each); g: tanh (1); c' = f*c + i*g (3); h' = o * tanh(c') (2)
    cell_flops = 15

    def _projection(self) -> Value:
        return self.proj_size

    def saved_on_cpu(self, batch: Value, steps: Value, features: Value) -> tuple[Saved, ...] | None:
        """oneDNN's fused LSTM (PyTorch's CPU path without a projection), per layer and
        direction: its output, h_0 and c_0, its oneDNN workspace; h_n and c_n of the stack (two
        tensors); with two directions every later layer's input is their concatenation."""
        if self.proj_size:
            return None  # no oneDNN kernel: the unfused rule
        d, h, layers = self._per_direction(), self.hidden_size, self.num_layers
        per_layer = d * (steps * batch * h + 2 * batch * h)
        states = 2 * layers * d * batch * h
        concatenated = (layers - 1) * steps * batch * d * h if d == 2 else 0
        workspace = d * self.over_layers(features, lambda i, _: onednn_lstm_workspace(steps, batch, i, h))
        return (Saved(numel=layers * per_layer + states + concatenated), Saved(numel=workspace, dtype="uint8"))


def _good_leading_dim(size: Value) -> Value:
    """oneDNN's leading dim for a float matrix: rounded up to 16 (64 bytes), plus 16 more when
    that is a multiple of 256 (to avoid 4K aliasing). A free size cannot be tested for the
    multiple of 256: it gets the rounding only."""
    padded = ceildiv(size, 16) * 16
    return padded + 16 if is_concrete(padded) and padded % 256 == 0 else padded


def onednn_lstm_workspace(steps: Value, batch: Value, input_size: Value, hidden: Value) -> Value:
    """Bytes of the workspace one oneDNN LSTM layer in one direction keeps for backward (f32),
    as oneDNN's rnn_utils lays it out: each part starts on a 4096-byte page. The parts: the
    gates (4H per step), h_t (H), the states, the c states, and the gradients of the layer
    states, the iteration states and the c states, each over steps + 1 positions of two
    layers (this one and the next's input)."""
    states_dim = _good_leading_dim(maximum(input_size, hidden))
    parts = (
        steps * batch * _good_leading_dim(4 * hidden),
        steps * batch * _good_leading_dim(hidden),
        2 * (steps + 1) * batch * states_dim,
        2 * (steps + 1) * batch * hidden,
        2 * (steps + 1) * batch * states_dim,
        2 * (steps + 1) * batch * states_dim,
        2 * (steps + 1) * batch * hidden,
    )
    offset: Value = 0
    for floats in parts:
        offset = ceildiv(offset, 4096) * 4096 + 4 * floats
    return ceildiv(offset, 4096) * 4096
