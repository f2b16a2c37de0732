"""PyTorch counterpart of bench/train.bench.ts: one training step of a BERT-base-sized random model.

Step = zero grads, forward (dropout on), cross-entropy loss, backward, clip the global gradient
norm to 1, torch.optim.AdamW step (lr 1e-5, PyTorch's default betas, eps and weight decay, as
adapterkit's AdamW). Variants:

- ``adapters``: Houlsby adapters (m = 64, GELU) after the attention output projection and after
  the feed-forward output projection of every layer; only the adapters, every LayerNorm and the
  head train (``requires_grad = False`` on the rest; the pooler stays frozen, as in adapterkit);
- ``full``: every parameter trains.

The model is a compact nn.Module BERT written here (post-norm layers, exact GELU, pooler tanh on
the first token, head = dropout + linear on the pooled output), with random weights (normal 0.02,
LayerNorm gain 1) and synthetic token ids.

Run with OPENBLAS_CORETYPE set to the fastest kernel set OpenBLAS has for the CPU (bench:pytorch
finds it with ``--probe`` under each candidate; OpenBLAS 0.3.21's own detection takes this Intel
Xeon for a "Prescott" and runs the MatMul ~5x slower than with SkylakeX kernels). Modes:

- default: ``--warmup`` untimed steps, then ``--steps`` timed ones; prints one JSON line with
  every step's milliseconds and the median;
- ``--probe``: prints the BLAS libraries, OpenBLAS's core type and the MatMul throughput, and exits;
- ``--serve``: builds the model, prints ``{"ready": ...}``, then runs one step per ``step`` line
  read from stdin and answers ``{"ms": ...}`` (``quit`` ends); lets a driver interleave steps with
  another framework's.

Both report the BLAS libraries the process mapped and a MatMul throughput: Debian's torch calls
the system ``libblas.so.3``; with only the reference BLAS (package libblas3) installed, matrix
products run ~40x slower than with OpenBLAS (libopenblas0-pthread), and the comparison is
meaningless. On a machine loaded by other processes, 2 OpenMP threads that spin-wait can be far
slower than 1 thread; ``OMP_WAIT_POLICY=PASSIVE`` or ``--threads 1`` helps there.

Shape legend: B batch, T tokens, C hidden (768), H heads (12), D head size (64), I intermediate
(3072), m adapter bottleneck.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

BERT_BASE = dict(vocab=30522, hidden=768, layers=12, heads=12, intermediate=3072, positions=512, type_vocab=2,
                 eps=1e-12, dropout=0.1)


class Adapter(nn.Module):
    """Houlsby bottleneck: h + up(gelu(down(h)))."""

    def __init__(self, c: int, m: int):
        super().__init__()
        self.down = nn.Linear(c, m)
        self.up = nn.Linear(m, c)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.up(F.gelu(self.down(h)))  # [B, T, C]


class Layer(nn.Module):
    """One post-norm encoder layer with optional adapters at the two Houlsby sites."""

    def __init__(self, cfg: dict, adapter_size: int | None):
        super().__init__()
        c, i = cfg["hidden"], cfg["intermediate"]
        self.heads = cfg["heads"]
        self.query, self.key, self.value = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.attn_out = nn.Linear(c, c)
        self.attn_norm = nn.LayerNorm(c, eps=cfg["eps"])
        self.inter = nn.Linear(c, i)
        self.out = nn.Linear(i, c)
        self.out_norm = nn.LayerNorm(c, eps=cfg["eps"])
        self.drop = nn.Dropout(cfg["dropout"])
        self.attn_adapter = Adapter(c, adapter_size) if adapter_size else None
        self.out_adapter = Adapter(c, adapter_size) if adapter_size else None

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        return x.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # [B, H, T, D]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))  # [B, H, T, D]
        scores = q @ k.transpose(-1, -2) / math.sqrt(c // self.heads) + mask  # [B, H, T, T]
        ctx = (self.drop(torch.softmax(scores, dim=-1)) @ v).transpose(1, 2).reshape(b, t, c)  # [B, T, C]
        a = self.drop(self.attn_out(ctx))  # [B, T, C]
        if self.attn_adapter is not None:
            a = self.attn_adapter(a)
        h = self.attn_norm(a + x)  # [B, T, C]
        f = self.drop(self.out(F.gelu(self.inter(h))))  # [B, T, C]
        if self.out_adapter is not None:
            f = self.out_adapter(f)
        return self.out_norm(f + h)  # [B, T, C]


class BertClassifier(nn.Module):
    """Embeddings, encoder layers, pooler, classification head."""

    def __init__(self, cfg: dict, labels: int, adapter_size: int | None):
        super().__init__()
        c = cfg["hidden"]
        self.word = nn.Embedding(cfg["vocab"], c)
        self.position = nn.Embedding(cfg["positions"], c)
        self.token_type = nn.Embedding(cfg["type_vocab"], c)
        self.emb_norm = nn.LayerNorm(c, eps=cfg["eps"])
        self.drop = nn.Dropout(cfg["dropout"])
        self.layers = nn.ModuleList(Layer(cfg, adapter_size) for _ in range(cfg["layers"]))
        self.pooler = nn.Linear(c, c)
        self.head = nn.Linear(c, labels)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        pos = torch.arange(t, device=ids.device).unsqueeze(0)  # [1, T]
        x = self.drop(self.emb_norm(self.word(ids) + self.position(pos) + self.token_type(types)))  # [B, T, C]
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min  # [B, 1, 1, T]
        for layer in self.layers:
            x = layer(x, bias)
        pooled = torch.tanh(self.pooler(x[:, 0]))  # [B, C]
        return self.head(self.drop(pooled))  # [B, labels]


def init_weights(model: nn.Module, seed: int) -> None:
    """Normal(0, 0.02) weights, zero biases, LayerNorm gain 1; adapters normal(0, 0.01)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, 0.01 if "adapter" in name else 0.02, generator=g)


def build(variant: str, adapter_size: int) -> tuple[BertClassifier, list[nn.Parameter]]:
    model = BertClassifier(BERT_BASE, labels=2, adapter_size=adapter_size if variant == "adapters" else None)
    init_weights(model, 1)
    if variant == "adapters":
        for name, p in model.named_parameters():
            p.requires_grad = "adapter" in name or "norm" in name or name.startswith("head.")
    model.train()
    return model, [p for p in model.parameters() if p.requires_grad]


def blas_libraries() -> list[str]:
    """Shared libraries of this process that provide BLAS (resolved paths), from /proc/self/maps."""
    found = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if path.startswith("/") and re.search(r"blas|mkl_rt|libblis", path):
                    found.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(found)


def blas_core() -> str | None:
    """The kernel set OpenBLAS chose (``openblas_get_corename``, which OPENBLAS_CORETYPE overrides), or None without OpenBLAS."""
    import ctypes

    for path in blas_libraries():
        if "openblas" not in os.path.basename(path):
            continue
        try:
            f = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        f.restype = ctypes.c_char_p
        return f().decode()
    return None


def matmul_gflops(runs: int = 5) -> float:
    """Median throughput of a [2048, 768] x [768, 3072] float32 product (the engine benchmark's shape)."""
    a, w = torch.randn(2048, 768), torch.randn(768, 3072)
    a @ w
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        a @ w
        times.append(time.perf_counter() - t)
    return 2 * 2048 * 768 * 3072 / statistics.median(times) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", choices=["adapters", "full"], default="adapters")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--adapter-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--serve", action="store_true", help="run one step per 'step' line on stdin")
    ap.add_argument("--probe", action="store_true", help="print the BLAS in use, its core type and the MatMul throughput, and exit")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    if a.probe:
        print(json.dumps({"blas": blas_libraries(), "blasCore": blas_core(), "threads": torch.get_num_threads(), "matmulGflops": matmul_gflops()}), flush=True)
        return
    torch.manual_seed(0)
    model, params = build(a.variant, a.adapter_size)
    opt = torch.optim.AdamW(params, lr=1e-5)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, BERT_BASE["vocab"], (a.batch, a.seq), generator=g)  # [B, T]
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    types = torch.zeros(a.batch, a.seq, dtype=torch.long)
    labels = torch.arange(a.batch) % 2

    def step() -> float:
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(ids, mask, types), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return (time.perf_counter() - t) * 1000

    info = {
        "variant": a.variant, "batch": a.batch, "seq": a.seq, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "trainable": sum(p.numel() for p in params), "total": sum(p.numel() for p in model.parameters()),
        "blas": blas_libraries(), "blasCore": blas_core(), "matmulGflops": matmul_gflops(),
    }
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # noqa: E731 (MiB on Linux)
    if a.serve:
        print(json.dumps({"ready": True, **info}), flush=True)
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "quit":
                break
            if cmd != "step":
                print(json.dumps({"error": f"unknown command {cmd!r}; expected 'step' or 'quit'"}), flush=True)
                continue
            print(json.dumps({"ms": step(), "peakRssMiB": peak()}), flush=True)
        return
    for _ in range(a.warmup):
        step()
    times = [step() for _ in range(a.steps)]
    print(json.dumps({**info, "ms": times, "medianMs": statistics.median(times), "peakRssMiB": peak()}), flush=True)


if __name__ == "__main__":
    main()
