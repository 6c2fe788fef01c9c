"""Recurrent layers: RNN, LSTM, GRU (torch.nn's arguments and parameter layout)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from archspec.dims import Value
from archspec.errors import LayerError
from archspec.layers import register
from archspec.layers.base import Count, Layer, Saved, Shape, Size, format_shape


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
    dropout: float = 0.0
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

    # Elements kept per hidden unit and step by the unfused cell: the gate activations and
    # the states the derivative needs (RNN: h; GRU: 3 gates, the W_hn h part, h; LSTM: 4
    # gates, c, tanh(c), h).
    saved_per_unit: ClassVar[int] = 1

    def saved_for_backward(self, x: Shape, out: Shape) -> tuple[Saved, ...]:
        batch, steps, features = self._split(x)
        kept = self._per_direction() * batch * steps * self.over_layers(
            features, lambda i, first: self.saved_per_unit * self.hidden_size + (0 if first else i)
        )
        return (Saved(input=0), Saved(numel=kept))

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


@register
class GRU(_Recurrent):
    __doc__ = _Recurrent.__doc__
    type: Literal["GRU"]
    gates = 3
    saved_per_unit = 5
    # r, z: sigmoid (3 each); n: r * (W_hn h + b_hn), tanh (2, its sum counted with the gates);
    # h' = (1 - z) * n + z * h (4)
    cell_flops = 12


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
