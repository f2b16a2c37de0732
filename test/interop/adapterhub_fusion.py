#!/usr/bin/python3
"""AdapterHub's own BertFusion on adapterkit's fusion files (test/interop/adapterhub-fusion.test.ts).

For each request: reads ``<dir>/<fusion>/adapter_fusion_config.json`` and
``<dir>/<fusion>/pytorch_model_adapter_fusion.bin`` (torch.load, weights_only), builds AdapterHub's
unchanged ``BertFusion`` (methods/modeling.py, loaded by scripts/interop/adapterhub_env.py) from the
file's ``config`` object, loads the site's tensors into it strictly (the keys after
``<prefix>`` must be exactly its parameters), and runs its forward in eval mode on the given inputs,
the adapters' up-projections stacked as AdapterHub's ``compose_fuse`` stacks them ([B, T, N, d]).

stdin: {"requests": [{"dir", "fusion", "prefix", "query": [B, T, d], "ups": [N, B, T, d], "residual": [B, T, d]}]}
stdout: {"results": [{"output": [B, T, d], "parameters": [...]} | {"error": "..."}]}
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "interop"))

import adapterhub_env  # noqa: E402


def run(req: dict, modeling) -> dict:
    import torch

    folder = Path(req["dir"]) / req["fusion"]
    cfg = json.loads((folder / "adapter_fusion_config.json").read_text(encoding="utf-8"))
    sd = torch.load(folder / "pytorch_model_adapter_fusion.bin", map_location="cpu", weights_only=True)
    prefix = req["prefix"]
    site = {k[len(prefix):]: v.double() for k, v in sd.items() if k.startswith(prefix)}
    query = torch.tensor(req["query"], dtype=torch.float64)
    d = query.shape[-1]
    fusion = modeling.BertFusion(cfg["config"], d, 0.0).double()
    fusion.load_state_dict(site, strict=True)
    fusion.eval()
    ups = torch.stack([torch.tensor(u, dtype=torch.float64) for u in req["ups"]])  # [N, B, T, d]
    up_list = ups.permute(1, 2, 0, 3)  # as compose_fuse: [B, T, N, d]
    with torch.no_grad():
        out = fusion(query, up_list, up_list, torch.tensor(req["residual"], dtype=torch.float64))
    return {"output": out.tolist(), "parameters": sorted(n for n, _ in fusion.named_parameters()), "config": cfg["config"]}


def main() -> int:
    adapterhub_env.require()
    ns = adapterhub_env.load()
    req = json.load(sys.stdin)
    results = []
    for r in req["requests"]:
        try:
            results.append(run(r, ns.modeling))
        except Exception as e:  # noqa: BLE001 (reported to the test)
            results.append({"error": f"{type(e).__name__}: {e}"})
    json.dump({"results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
