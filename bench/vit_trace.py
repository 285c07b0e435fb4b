#!/usr/bin/env python3
"""Traces a ViT of a foundation model's shape with random weights, for the encoder benchmarks.

    python3 bench/vit_trace.py b16 OUT.pt   # ViT-B/16: 768-d, 12 layers, 12 heads (CTransPath/Phikon size)
    python3 bench/vit_trace.py l16 OUT.pt   # ViT-L/16: 1,024-d, 24 layers, 16 heads (UNI's shape)

Writes OUT.pt (TorchScript) and OUT.json (the side-car: 224 px, ImageNet mean/sd, output_dim).
Random weights: the figures are the cost of the architecture, not of a trained model's features.
Plain torch (no timm/torchvision): patch embedding, class token, learned positions, pre-norm blocks.
"""
import json
import pathlib
import sys

import torch
from torch import nn

SHAPES = {"b16": (768, 12, 12, 3072), "l16": (1024, 24, 16, 4096)}


class ViT(nn.Module):
    def __init__(self, dim, depth, heads, mlp, patch=16, size=224):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], dim=1) + self.pos
        return self.norm(self.blocks(t))[:, 0]


def main():
    shape, out = sys.argv[1], pathlib.Path(sys.argv[2])
    torch.manual_seed(0)
    dim, depth, heads, mlp = SHAPES[shape]
    model = ViT(dim, depth, heads, mlp).eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, torch.randn(2, 3, 224, 224))
    traced.save(str(out))
    out.with_suffix(".json").write_text(json.dumps(
        {"input_size": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "output_dim": dim}))
    print(f"{out}: ViT-{shape.upper()} {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, {dim}-d")


if __name__ == "__main__":
    main()
