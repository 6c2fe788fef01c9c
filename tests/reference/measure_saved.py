"""Measure what autograd saves for backward for models beyond ../shared/reference, and print
tests/reference/saved_measured.json (torch and transformers needed; not run by the tests).

Each figure: bytes of the distinct storages packed by torch.autograd.graph.saved_tensors_hooks
during one train-mode forward pass on CPU in float32, parameters excluded, as in
torch_measured.json.
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.backends.mha.set_fastpath_enabled(False)


class SelfAttention(nn.Module):
    """archspec's Attention layer in torch: a fused QKV projection, SDPA, an out projection."""

    def __init__(self, d, heads, dropout, causal):
        super().__init__()
        self.qkv, self.out, self.heads, self.dropout, self.causal = nn.Linear(d, 3 * d), nn.Linear(d, d), heads, dropout, causal

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = (t.view(b, n, self.heads, d // self.heads).transpose(1, 2) for t in self.qkv(x).split(d, -1))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=self.causal)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class WithWeights(nn.Module):
    """nn.MultiheadAttention called with need_weights=True (its eager path)."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.mha = nn.MultiheadAttention(*args, **kwargs)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=True)[0]


class CrossAttention(nn.Module):
    """nn.MultiheadAttention over a query and a memory: key and value the same tensor, or two."""

    def __init__(self, same_memory, need_weights):
        super().__init__()
        self.mha, self.same, self.need_weights = nn.MultiheadAttention(256, 4, dropout=0.1, batch_first=True), same_memory, need_weights

    def forward(self, x, memory):
        value = memory if self.same else memory * 1.0
        return self.mha(x, memory, value, need_weights=self.need_weights)[0]


def gpt2(length):
    from transformers import GPT2Config, GPT2Model

    model = GPT2Model(GPT2Config(attn_implementation="eager", use_cache=False, return_dict=False))
    return model, lambda batch: (torch.randint(0, 50257, (batch, length)),)


# name -> (builder source, build(), inputs(batch)); the RECURRENT grid below is measured too.
MODELS = {
    "transformer_encoder_layer_dropout": (
        "nn.TransformerEncoderLayer(d_model=512, nhead=8, dim_feedforward=2048, batch_first=True)  # dropout 0.1",
        lambda: (nn.TransformerEncoderLayer(512, 8, 2048, batch_first=True), lambda b: (torch.randn(b, 128, 512),)),
    ),
    "mha_need_weights_dropout": (
        "nn.MultiheadAttention(256, 4, dropout=0.1, batch_first=True)(x, x, x, need_weights=True), x (B, 64, 256)",
        lambda: (WithWeights(256, 4, dropout=0.1, batch_first=True), lambda b: (torch.randn(b, 64, 256),)),
    ),
    "sdpa_attention_dropout_causal": (
        "Linear(256, 768) -> q, k, v (4 heads) -> F.scaled_dot_product_attention(dropout_p=0.1, is_causal=True) -> Linear(256, 256), x (B, 64, 256)",
        lambda: (SelfAttention(256, 4, 0.1, True), lambda b: (torch.randn(b, 64, 256),)),
    ),
    "sdpa_attention_causal": (
        "as sdpa_attention_dropout_causal with dropout_p=0",
        lambda: (SelfAttention(256, 4, 0.0, True), lambda b: (torch.randn(b, 64, 256),)),
    ),
    "mha_cross_dropout": (
        "nn.MultiheadAttention(256, 4, dropout=0.1, batch_first=True)(x, m, m * 1.0), x (B, 32, 256), m (B, 48, 256)",
        lambda: (CrossAttention(False, False), lambda b: (torch.randn(b, 32, 256), torch.randn(b, 48, 256))),
    ),
    "mha_cross_need_weights_dropout": (
        "as mha_cross_dropout, called with need_weights=True",
        lambda: (CrossAttention(False, True), lambda b: (torch.randn(b, 32, 256), torch.randn(b, 48, 256))),
    ),
    "gpt2_seq64": (
        "transformers GPT2Model(GPT2Config(attn_implementation='eager', use_cache=False, return_dict=False)), ids (B, 64)",
        lambda: gpt2(64),
    ),
}


TORCHVISION = [
    "mobilenet_v2", "mobilenet_v3_large", "resnet50", "resnext50_32x4d", "densenet121", "googlenet",
    "shufflenet_v2_x1_0", "efficientnet_b0", "convnext_tiny", "vgg16_bn", "vit_b_16",
]


def torchvision_model(name):
    import torchvision.models as tvm

    options = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return getattr(tvm, name)(weights=None, **options), lambda b: (torch.randn(b, 3, 224, 224),)


for _name in TORCHVISION:
    MODELS[_name] = (f"torchvision.models.{_name}(weights=None), x (B, 3, 224, 224)", lambda n=_name: torchvision_model(n))


# (kind, input_size, hidden_size, num_layers, bidirectional, batch_first, steps, batch)
RECURRENT = [
    (kind, 16, 32, layers, bidirectional, batch_first, 5, 2)
    for kind in ("RNN", "GRU", "LSTM")
    for layers in (1, 2, 3)
    for bidirectional in (False, True)
    for batch_first in (False, True)
] + [
    (kind, i, h, layers, bidirectional, True, steps, batch)
    for kind in ("RNN", "GRU", "LSTM")
    for (i, h, layers, bidirectional, steps, batch) in [
        (16, 32, 1, True, 7, 1), (128, 256, 2, False, 50, 3), (300, 17, 1, True, 1, 4), (64, 512, 1, False, 33, 2),
    ]
]


def recurrent(kind, i, h, layers, bidirectional, batch_first, steps, batch):
    module = getattr(nn, kind)(i, h, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    shape = (batch, steps, i) if batch_first else (steps, batch, i)
    return module, torch.randn(*shape)


def saved_bytes(model, inputs) -> int:
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(*inputs)
    return sum(seen.values())


def main(names):
    records = []
    for name in names:
        source, build = MODELS[name]
        torch.manual_seed(0)
        model, inputs = build()
        model.train()
        figures = {f"saved_for_backward_bytes_b{batch}": saved_bytes(model, inputs(batch)) for batch in (1, 2)}
        records.append({"model": name, "builder": source, **figures})
    grid = []
    for config in RECURRENT if names == list(MODELS) else []:
        torch.manual_seed(0)
        module, x = recurrent(*config)
        keys = ("type", "input_size", "hidden_size", "num_layers", "bidirectional", "batch_first", "steps", "batch")
        grid.append({**dict(zip(keys, config)), "saved_for_backward_bytes": saved_bytes(module.train(), (x,))})
    about = (
        f"Measured by tests/reference/measure_saved.py with PyTorch {torch.__version__} (CPU, float32)"
        + (f", transformers {__import__('transformers').__version__}" if "gpt2_seq64" in names else "")
        + (f", torchvision {__import__('torchvision').__version__}" if set(TORCHVISION) & set(names) else "")
        + ": distinct storages packed by saved_tensors_hooks in one train-mode forward pass, parameters excluded."
    )
    print(json.dumps({"source": about, "models": records, "recurrent": grid}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:] or list(MODELS))
