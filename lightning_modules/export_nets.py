"""What a family hands to the exporters: plain nn.Modules with fixed example inputs and a description.

The LightningModule itself is never exported: each family wraps the network a user needs on a phone or
a server (a generator, a decoder, a causal LM over a fixed context, a recurrent step) so that its inputs
and outputs are the user's units (images in [0, 1], int32 token ids), and names them. The exporters in
genlab/export/ convert these wrappers and compare them with the PyTorch originals on `parity_inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

# How parity reads an output: images get PSNR in [0, 1] units, logits top-1 agreement, the rest max diff.
OutputKind = Literal["image", "logits", "tensor"]


@dataclass
class ExportNet:
    """One exportable network: the module (eval mode, CPU), fixed inputs and what they mean."""

    module: nn.Module
    parity_inputs: tuple[torch.Tensor, ...]  # each (N, ...): N fixed inputs, exported with batch 1
    input_names: list[str]
    output_names: list[str]
    output_kinds: dict[str, OutputKind]
    metadata: dict[str, Any] = field(default_factory=dict)  # ranges, normalisation, classes, tokenizer ...
    # False: ONNX through torch.onnx's TorchScript exporter, for graphs the dynamo exporter cannot decompose
    onnx_dynamo: bool = True

    @property
    def example_inputs(self) -> tuple[torch.Tensor, ...]:
        """The batch-1 inputs the converters trace with (the first parity input)."""
        return tuple(t[:1] for t in self.parity_inputs)

    @property
    def n_parity(self) -> int:
        return int(self.parity_inputs[0].shape[0])

    def parity_input(self, i: int) -> tuple[torch.Tensor, ...]:
        return tuple(t[i : i + 1] for t in self.parity_inputs)


def describe(t: torch.Tensor, value_range: tuple[float, float] | None = None) -> dict[str, Any]:
    """Shape and dtype of one batch-1 tensor, for the metadata file."""
    out: dict[str, Any] = {"shape": [1, *t.shape[1:]], "dtype": str(t.dtype).removeprefix("torch.")}
    if value_range is not None:
        out["range"] = list(value_range)
    return out


def parity_images(fixed: torch.Tensor, n: int = 4, seed: int = 0) -> torch.Tensor:
    """Up to n real images from a fixed buffer, topped up with seeded noise images.

    Unfilled buffer slots are all zero, and a constant image through instance norm divides rounding
    noise by sqrt(eps): an ill-conditioned input that no two runtimes compute alike, so it proves nothing."""
    real = fixed.detach().float().cpu()
    real = real[real.flatten(1).abs().sum(1) > 0][:n]  # (<= n, C, H, W)
    if real.shape[0] >= 2:
        return real
    noise = torch.rand(2 - real.shape[0], *fixed.shape[1:], generator=torch.Generator().manual_seed(seed))
    return torch.cat([real, noise])


class ImageOut(nn.Module):
    """net(*inputs) in [-1, 1] (tanh) -> [0, 1]; the unit every GenLab image API speaks."""

    def __init__(self, net: nn.Module, squash: Literal["tanh", "sigmoid"] = "tanh") -> None:
        super().__init__()
        self.net, self.squash = net, squash

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        y = self.net(*inputs)
        if self.squash == "sigmoid":
            return torch.sigmoid(y)
        return (y + 1.0) * 0.5  # (B, C, H, W) in [0, 1]


class LabelledImageOut(nn.Module):
    """(z (B, D), label (B,) int32) -> image in [0, 1]: int32 labels run on every runtime (TFLite has no
    int64 inputs)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return (self.net(z, label.long()) + 1.0) * 0.5


class Translate01(nn.Module):
    """An image-to-image generator in [-1, 1] wrapped to take and give images in [0, 1]."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net(x * 2.0 - 1.0) + 1.0) * 0.5


class ConvTransposeAsSlice(nn.Module):
    """A ConvTranspose2d with padding and output_padding computed as padding 0 plus a slice.

    The TFLite converter cannot legalise a transposed convolution whose padding and output_padding are
    both set (CycleGAN's upsampling). With padding 0 the full output has L = (H-1)s + d(k-1) + 1 rows;
    the padded layer keeps rows [p, L - p + op), zero-extended when op > p. Same weights, same numbers.
    """

    def __init__(self, conv: nn.ConvTranspose2d) -> None:
        super().__init__()
        self.weight = conv.weight
        self.bias = conv.bias
        self.stride, self.dilation, self.groups = conv.stride, conv.dilation, conv.groups
        self.padding, self.output_padding = conv.padding, conv.output_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv_transpose2d(x, self.weight, None, self.stride, 0, 0, self.groups, self.dilation)
        (ph, pw), (oh, ow) = self.padding, self.output_padding
        h, w = y.shape[-2:]
        extra_h, extra_w = max(0, oh - ph), max(0, ow - pw)
        if extra_h or extra_w:
            y = F.pad(y, (0, extra_w, 0, extra_h))
        y = y[..., ph : h - ph + oh, pw : w - pw + ow]
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y


def rewrite_conv_transpose(module: nn.Module) -> int:
    """Replace, in place, every ConvTranspose2d with output_padding by ConvTransposeAsSlice; returns how
    many were replaced. Call on a copy: the weights are shared, not cloned."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, nn.ConvTranspose2d) and any(child.output_padding):
            setattr(module, name, ConvTransposeAsSlice(child))
            count += 1
        else:
            count += rewrite_conv_transpose(child)
    return count


class CausalLMLogits(nn.Module):
    """A transformers causal LM over a fixed context: ids (1, T) int32 -> logits (1, T, V).

    Causal attention means right padding never changes the logits of earlier positions, so one fixed T
    serves every prompt length up to T (the decode loop reads position len-1)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids.long(), use_cache=False).logits.float()


class RecurrentStep(nn.Module):
    """One step of a char-RNN written out as cell equations: token (1,) int32, h (1, L, H) [, c] ->
    logits (1, V), h' [, c'] (state batch-first, so every input has the batch in front). Explicit matrix maths exports to every runtime (fused LSTM/GRU ops do not),
    and a phone generates by calling it once per character."""

    def __init__(self, embed: nn.Embedding, cell: nn.LSTM | nn.GRU, head: nn.Linear) -> None:
        super().__init__()
        self.embed, self.head = embed, head
        self.is_lstm = isinstance(cell, nn.LSTM)
        self.n_layers = cell.num_layers
        self.w_ih = nn.ParameterList([getattr(cell, f"weight_ih_l{i}") for i in range(cell.num_layers)])
        self.w_hh = nn.ParameterList([getattr(cell, f"weight_hh_l{i}") for i in range(cell.num_layers)])
        self.b_ih = nn.ParameterList([getattr(cell, f"bias_ih_l{i}") for i in range(cell.num_layers)])
        self.b_hh = nn.ParameterList([getattr(cell, f"bias_hh_l{i}") for i in range(cell.num_layers)])

    def forward(self, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None = None) -> Any:
        x = self.embed(token.long())  # (1, E)
        hs, cs = [], []
        for i in range(self.n_layers):
            gi = F.linear(x, self.w_ih[i], self.b_ih[i])  # (1, G*H)
            gh = F.linear(h[:, i], self.w_hh[i], self.b_hh[i])
            if self.is_lstm:
                assert c is not None
                ig, fg, gg, og = (gi + gh).chunk(4, dim=1)
                c_new = torch.sigmoid(fg) * c[:, i] + torch.sigmoid(ig) * torch.tanh(gg)
                h_new = torch.sigmoid(og) * torch.tanh(c_new)
                cs.append(c_new)
            else:
                ir, iz, inn = gi.chunk(3, dim=1)
                hr, hz, hn = gh.chunk(3, dim=1)
                r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                n = torch.tanh(inn + r * hn)
                h_new = (1 - z) * n + z * h[:, i]
            hs.append(h_new)
            x = h_new  # dropout between layers is off in eval mode
        logits = self.head(x)  # (1, V)
        if self.is_lstm:
            return logits, torch.stack(hs, dim=1), torch.stack(cs, dim=1)
        return logits, torch.stack(hs, dim=1)
