#!/usr/bin/python3
"""Runs AdapterHub's real Compacter modules (Adapter with PHMLayer) on an adapter directory.

Usage (same arguments and JSON output as scripts/interop/adapterhub_forward.py):
    /usr/bin/python3 test/interop/adapterhub_phm_forward.py <task-dir> <base-model-dir> <inputs.json> [--dtype float64|float32]

scripts/interop/adapterhub_forward.py runs AdapterHub's Adapter modules with no forward context, which
is all a plain bottleneck needs. A PHM layer also reads the adapter's shared parameters (the shared
PHM rule, and with shared_W_phm the shared weights) from ``ForwardContext.get_context().shared_parameters``
(adapters' methods/modeling.py ``PHMLayer.forward``); AdapterHub's model keeps them at
``<model_type>.shared_parameters.<name>.*`` (model_mixin.py ``_add_adapter_weights``). This script:
- builds the config with AdapterHub's AdapterConfig.load and requires ``phm_layer``;
- builds the shared parameters with AdapterHub's own ``init_shared_parameters`` and loads them strictly
  from those keys (names and shapes must be exactly AdapterHub's);
- builds every site's real ``Adapter`` / ``ParallelAdapter`` and loads it strictly (as
  adapterhub_forward.py does); every key of the weights file must belong to a module or the shared set;
- runs the base model (scripts/fixtures/reference_encoders.py) with AdapterHub's pre_forward / forward /
  post_forward at each site, the forward context answering with those shared parameters;
- applies the head with adapterhub_forward.py's own helper.
Exit codes as adapterhub_forward.py (4: not a PHM bottleneck adapter).
"""
from __future__ import annotations

import argparse
import json
import sys
import types
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "interop"))
sys.path.insert(0, str(REPO / "scripts" / "fixtures"))

import adapterhub_env  # noqa: E402
import adapterhub_forward as F  # noqa: E402


@contextmanager
def forward_context(modeling, name: str, shared):
    """Makes modeling.ForwardContext.get_context() give the adapter's shared parameters, then restores it."""
    before = modeling.ForwardContext

    class Context:
        @classmethod
        def get_context(cls):
            return types.SimpleNamespace(shared_parameters={name: shared})

    modeling.ForwardContext = Context
    try:
        yield
    finally:
        modeling.ForwardContext = before


def run(task_dir: Path, base_dir: Path, inputs_path: Path, dtype_name: str) -> dict:
    ns = adapterhub_env.load()
    import torch

    import reference_encoders as R
    from fixture_io import read_safetensors

    dtype = {"float64": torch.float64, "float32": torch.float32}[dtype_name]
    d = F._read_json(task_dir / "adapter_config.json", "read adapter_config.json")
    try:
        config = ns.adapter_config.AdapterConfig.load(d.get("config"))
    except Exception as e:
        raise F.Failure(1, "AdapterConfig.load", e)
    if not isinstance(config, ns.adapter_config.BnConfig) or not config["phm_layer"]:
        raise F.Failure(4, "AdapterConfig.load", f"{type(config).__name__} is not a bottleneck adapter with phm_layer")
    name = d["name"]
    cfg = F._read_json(base_dir / "config.json", "read base config.json")
    base = read_safetensors(str(base_dir / "model.safetensors"))[0]
    model_type = cfg["model_type"]
    base_prefix = model_type + "." if f"{model_type}.embeddings.word_embeddings.weight" in base else ""
    hidden = cfg["hidden_size"]
    weights_file, weights = F._load_weights(task_dir, "pytorch_adapter.bin", "adapter.safetensors", "read adapter weights")

    used = set()
    shared_prefix = f"{model_type}.shared_parameters.{name}."
    shared = ns.modeling.init_shared_parameters(config, hidden, "cpu") if (config["shared_phm_rule"] or config["shared_W_phm"]) else torch.nn.ParameterDict()
    state = {k[len(shared_prefix):]: v for k, v in weights.items() if k.startswith(shared_prefix)}
    try:
        shared.load_state_dict(state, strict=True)
    except Exception as e:
        raise F.Failure(1, f"shared parameters load_state_dict (prefix {shared_prefix})", e)
    used.update(shared_prefix + k for k in state)
    shared = shared.to(dtype)

    cls = ns.modeling.ParallelAdapter if config["is_parallel"] else ns.modeling.Adapter
    modules, listing = {}, []
    for layer in range(cfg["num_hidden_layers"]):
        if layer in config["leave_out"]:
            continue
        for site, (flag, module_path) in F.SITES.items():
            if not config[flag]:
                continue
            pre = f"{model_type}.encoder.layer.{layer}.{module_path}.adapters.{name}."
            try:
                module = cls(adapter_name=name, input_size=hidden, down_sample=F._width(config, layer, hidden), config=config)
            except Exception as e:
                raise F.Failure(1, f"{cls.__name__}.__init__ (layer {layer}, {site})", e)
            state = {k[len(pre):]: v for k, v in weights.items() if k.startswith(pre)}
            try:
                module.load_state_dict(state, strict=True)
            except Exception as e:
                raise F.Failure(1, f"load_state_dict (layer {layer}, {site}, prefix {pre})", e)
            used.update(pre + k for k in state)
            modules[(layer, site)] = module.to(dtype).eval()
            listing.append({"layer": layer, "site": site, "class": cls.__name__, "width": module.down_sample, "key_prefix": pre})
    unused = sorted(set(weights) - used)
    if unused:
        raise F.Failure(1, "load_state_dict", f"{weights_file} has keys no adapter module takes: {unused}")

    def sublayer(h, x, ln, layer, site):
        module = modules.get((layer, site))
        if module is None:
            return ln(h + x)
        hidden_states, _, residual = module.pre_forward(h, x, ln)
        out = module(hidden_states, residual_input=residual)[0]
        return module.post_forward(out, h, x, ln)

    raw_inputs = F._read_json(inputs_path, "read inputs")
    inputs = raw_inputs.get("inputs", raw_inputs)
    p = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in base.items()}
    with torch.no_grad(), forward_context(ns.modeling, name, shared):
        out = R.encode(p, base_prefix, cfg, inputs, dtype, sublayer=sublayer)
        logits, head_file = None, None
        if (task_dir / "head_config.json").is_file():
            logits, head_file = F._head(task_dir, ns, out, hidden, dtype)

    def record(t):
        return None if t is None else {"shape": list(t.shape), "data": t.detach().double().reshape(-1).tolist()}

    return {"ok": True, "adapter": name, "config_class": type(config).__name__, "weights_file": weights_file,
            "head_weights_file": head_file, "dtype": dtype_name, "modules": listing,
            "shared_parameters": {shared_prefix + k: list(v.shape) for k, v in shared.items()},
            "last_hidden_state": record(out["last_hidden_state"]), "pooler_output": record(out.get("pooler_output")),
            "logits": record(logits)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="AdapterHub Compacter forward (see the module docstring)")
    parser.add_argument("task_dir", type=Path)
    parser.add_argument("base_model_dir", type=Path)
    parser.add_argument("inputs", type=Path)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        result, code = run(args.task_dir, args.base_model_dir, args.inputs, args.dtype), 0
    except F.Failure as f:
        result, code = {"ok": False, "stage": f.stage, "error": f.error}, f.code
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
