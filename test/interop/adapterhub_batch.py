#!/usr/bin/python3
"""Runs the AdapterHub harness on many task directories in one Python process (test/interop/adapterhub.test.ts).

Starting Python with torch and AdapterHub's code costs about a second, so instead of one
``scripts/interop/adapterhub_config.py`` / ``adapterhub_forward.py`` run per directory this calls the
same functions those scripts' ``main`` calls (``adapterhub_config.check``, ``adapterhub_forward.run``)
for every request, and compares weight files with torch.

stdin: {"configs": [<adapter_config.json>...],
        "forwards": [<task dir>...], "phm_forwards": [<task dir>...], "base": <base model dir>, "inputs": <inputs.json>,
        "pairs": [[<.bin>, <.safetensors>]...]}
stdout: {"configs": [{"code": <the script's exit code>, ...check() output}],
         "forwards": [{"code": ..., ...run() output or the failure}],
         "phm_forwards": [the same from adapterhub_phm_forward.run (Compacter: AdapterHub's PHMLayer with its shared parameters)],
         "pairs": [{"bin": ..., "type": ..., "keys": [...], "problems": [...]}]}
A pair's problems list every key that is in one file only and every tensor whose dtype, shape or
bytes differ; the .bin is read with torch.load(weights_only=True), the .safetensors by hand (its
8-byte header length, JSON header, raw little-endian data), so neither side goes through adapterkit.
"""
from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "interop"))

import adapterhub_config  # noqa: E402
import adapterhub_forward  # noqa: E402
import adapterhub_phm_forward  # noqa: E402  (beside this file)

SAFETENSORS_DTYPES = {"F32": "torch.float32", "F64": "torch.float64", "F16": "torch.float16", "I64": "torch.int64"}


def read_safetensors(path: str) -> dict:
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    start = 8 + n
    return {k: (v["dtype"], v["shape"], data[start + v["data_offsets"][0]:start + v["data_offsets"][1]]) for k, v in header.items()}


def compare(bin_path: str, st_path: str) -> dict:
    import torch

    sd = torch.load(bin_path, map_location="cpu", weights_only=True)
    st = read_safetensors(st_path)
    problems = []
    for k in sorted(set(sd) | set(st)):
        if k not in sd or k not in st:
            problems.append(f"{k}: only in {'the .bin' if k in sd else 'the .safetensors'}")
            continue
        t = sd[k]
        dtype, shape, raw = st[k]
        if str(t.dtype) != SAFETENSORS_DTYPES.get(dtype):
            problems.append(f"{k}: dtype {t.dtype} vs {dtype}")
        elif list(t.shape) != list(shape):
            problems.append(f"{k}: shape {list(t.shape)} vs {shape}")
        elif t.contiguous().numpy().tobytes() != raw:
            problems.append(f"{k}: the bytes differ")
    return {"bin": bin_path, "type": type(sd).__name__, "keys": sorted(sd), "problems": problems}


def main() -> int:
    req = json.load(sys.stdin)
    out = {"configs": [], "forwards": [], "phm_forwards": [], "pairs": []}
    for path in req.get("configs", []):
        code, result = adapterhub_config.check(path)
        out["configs"].append({"code": code, **result})
    for key, run in (("forwards", adapterhub_forward.run), ("phm_forwards", adapterhub_phm_forward.run)):
        for task_dir in req.get(key, []):
            try:
                result, code = run(Path(task_dir), Path(req["base"]), Path(req["inputs"]), "float64"), 0
            except adapterhub_forward.Failure as f:
                result, code = {"ok": False, "stage": f.stage, "error": f.error}, f.code
            out[key].append({"code": code, "dir": task_dir, **result})
    for bin_path, st_path in req.get("pairs", []):
        out["pairs"].append(compare(bin_path, st_path))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
