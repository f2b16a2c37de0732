#!/usr/bin/python3
"""AdapterHub's own BertFusion on adapterkit's fusion files (test/interop/adapterhub-fusion.test.ts).

For each request: reads ``<dir>/<fusion>/adapter_fusion_config.json`` and
``<dir>/<fusion>/pytorch_model_adapter_fusion.bin`` (torch.load, weights_only), builds AdapterHub's
unchanged ``BertFusion`` (methods/modeling.py, loaded by scripts/interop/adapterhub_env.py) from the
file's ``config`` object, loads the site's tensors into it strictly (the keys after
``<prefix>`` must be exactly its parameters), and runs its forward in eval mode on the given inputs,
the adapters' up-projections stacked as AdapterHub's ``compose_fuse`` stacks them ([B, T, N, d]).
With ``calls`` (default 1) the forward runs that many times on the same inputs (a fresh copy of the
stacked up-projections each time: ``residual_before`` adds to them in place), and the module's ``T``
before each call comes back, with the outputs of the calls listed in ``at`` (default [0]).

The other direction, "writes": AdapterHub's BertFusion with its own initialisation (then perturbed,
seeded), its state dict saved with torch.save under the keys ``<prefix><parameter>`` of every site in
``prefixes`` into ``<dir>/pytorch_model_adapter_fusion.bin``, beside an ``adapter_fusion_config.json``
of the fields AdapterHub's ``build_full_config`` writes; the output of the first site's module on the
given inputs comes back, for adapterkit to read the folder and compare.

stdin: {"requests": [{"dir", "fusion", "prefix", "query": [B, T, d], "ups": [N, B, T, d], "residual": [B, T, d], "calls"?, "at"?}],
        "writes": [{"dir", "name", "adapter_names", "config", "hidden_size", "prefixes", "seed", "query", "ups", "residual"}]}
stdout: {"results": [{"output": [B, T, d], "outputs": {call: [B, T, d]}, "temperatures": [T per call], "parameters": [...]} | {"error": "..."}],
         "writes": [{"output", "parameters"} | {"error"}]}
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
    residual = torch.tensor(req["residual"], dtype=torch.float64)
    at = set(req.get("at", [0]))
    outputs, temperatures = {}, []
    with torch.no_grad():
        for k in range(req.get("calls", 1)):
            up_list = ups.permute(1, 2, 0, 3).clone()  # as compose_fuse: [B, T, N, d]
            temperatures.append(fusion.T)
            out = fusion(query, up_list, up_list, residual)
            if k in at:
                outputs[str(k)] = out.tolist()
    first = outputs[str(min(at))]
    return {"output": first, "outputs": outputs, "temperatures": temperatures,
            "parameters": sorted(n for n, _ in fusion.named_parameters()), "config": cfg["config"]}


def write(req: dict, modeling) -> dict:
    import torch

    folder = Path(req["dir"])
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(req["seed"])
    d = req["hidden_size"]
    sd, first = {}, None
    for prefix in req["prefixes"]:
        fusion = modeling.BertFusion(req["config"], d, 0.0)
        with torch.no_grad():
            for p in fusion.parameters():
                p.add_(0.1 * torch.randn_like(p))
        first = first or fusion
        sd.update({prefix + k: v for k, v in fusion.state_dict().items()})
    torch.save(sd, folder / "pytorch_model_adapter_fusion.bin")
    cfg = {"adapter_names": req["adapter_names"], "config": req["config"], "hidden_size": d, "model_class": "BertAdapterModel",
           "model_name": None, "model_type": "bert", "name": req["name"], "version": "adapters.1.2.0"}
    with open(folder / "adapter_fusion_config.json", "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    first = first.double().eval()
    ups = torch.stack([torch.tensor(u, dtype=torch.float64) for u in req["ups"]]).permute(1, 2, 0, 3)
    with torch.no_grad():
        out = first(torch.tensor(req["query"], dtype=torch.float64), ups, ups, torch.tensor(req["residual"], dtype=torch.float64))
    return {"output": out.tolist(), "parameters": sorted(n for n, _ in first.named_parameters())}


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
    writes = []
    for w in req.get("writes", []):
        try:
            writes.append(write(w, ns.modeling))
        except Exception as e:  # noqa: BLE001 (reported to the test)
            writes.append({"error": f"{type(e).__name__}: {e}"})
    json.dump({"results": results, "writes": writes}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
