#!/usr/bin/python3
"""Runs AdapterHub's real bottleneck modules on an adapter directory: logits and hidden states as JSON.

Usage:
    /usr/bin/python3 scripts/interop/adapterhub_forward.py <task-dir> <base-model-dir> <inputs.json>
        [--dtype float64|float32]

<task-dir>        an AdapterHub adapter folder: adapter_config.json, pytorch_adapter.bin (read with
                  torch.load(..., weights_only=True)) or else adapter.safetensors; optionally
                  head_config.json with pytorch_model_head.bin or else model_head.safetensors.
<base-model-dir>  a BERT-style checkpoint: config.json and model.safetensors or pytorch_model.bin
                  (keys with or without the "<model_type>." prefix).
<inputs.json>     {"input_ids": [[...]], "attention_mask": [[...]], "token_type_ids": [[...]]?}, or any
                  object holding that under "inputs" (so a fixture's reference.json works as is).

What runs: AdapterConfig.load(d["config"]) (AdapterHub's code; files without "version" get AdapterHub's
legacy non_linearity rename first), then for every layer not in leave_out and every site the config
enables (mh_adapter: after attention.output.dense, output_adapter: after output.dense) AdapterHub's
real ``Adapter`` (or ``ParallelAdapter`` when is_parallel) of width int(hidden_size // reduction_factor)
(per-layer map: "<layer>", then "default"), loaded with ``load_state_dict(strict=True)`` from the keys
``<model_type>.encoder.layer.{i}.{attention.output|output}.adapters.<name>.*``; every key of the weights
file must belong to one module. The base model is scripts/fixtures/reference_encoders.py with a sublayer
hook that, in place of LN(h + x), does what AdapterHub's BottleneckLayer does for a single adapter:
    hidden, _, residual = module.pre_forward(h, x, LN)
    out, _, _ = module(hidden, residual_input=residual)
    result = module.post_forward(out, h, x, LN)
(modules in eval mode: dropout off). The head, when present, is AdapterHub's PredictionHead layout
``[Dropout, Linear(C, C), act] * (layers - 1) + [Dropout, Linear(C, num_labels)]`` (keys
heads.<name>.<index>.{weight,bias}, act via AdapterHub's Activation_Function_Class), on pooler_output
when use_pooler else on the first token; only head_type "classification" is supported.

Output: one JSON object on stdout:
    {"ok": true, "adapter": name, "config_class": "DoubleSeqBnConfig", "weights_file": "pytorch_adapter.bin",
     "head_weights_file": "model_head.safetensors" | null, "dtype": "float64",
     "modules": [{"layer": 0, "site": "attention", "class": "Adapter", "width": 4, "key_prefix": "..."}],
     "last_hidden_state": {"shape": [B, T, C], "data": [...]}, "pooler_output": {...} | null,
     "logits": {"shape": [B, num_labels], "data": [...]} | null}
    on failure: {"ok": false, "stage": ..., "error": {"type": ..., "message": ...}}
Exit codes: 0 ok, 1 AdapterHub rejected the config or the weights (its own error text), 2 usage or
unreadable input, 3 torch or ../shared/interop/adapterhub missing, 4 not a bottleneck adapter / unsupported head.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "fixtures"))

import adapterhub_env  # noqa: E402

SITES = {"attention": ("mh_adapter", "attention.output"), "ffn": ("output_adapter", "output")}


class Failure(Exception):
    def __init__(self, code: int, stage: str, error: BaseException | str):
        super().__init__(str(error))
        self.code, self.stage = code, stage
        if isinstance(error, BaseException):
            self.error = {"type": type(error).__name__, "message": str(error)}
        else:
            self.error = {"type": "Unsupported" if code == 4 else "Error", "message": error}


def _read_json(path: Path, stage: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise Failure(2, stage, e)


def _load_weights(folder: Path, bin_name: str, safe_name: str, stage: str):
    import torch

    from fixture_io import read_safetensors

    try:
        if (folder / bin_name).is_file():
            return bin_name, torch.load(folder / bin_name, map_location="cpu", weights_only=True)
        if (folder / safe_name).is_file():
            return safe_name, read_safetensors(str(folder / safe_name))[0]
    except Exception as e:
        raise Failure(2, stage, e)
    raise Failure(2, stage, f"neither {bin_name} nor {safe_name} in {folder}")


def _width(config, layer: int, hidden: int) -> int:
    rf = config["reduction_factor"]
    if isinstance(rf, Mapping):
        if str(layer) in rf:
            rf = rf[str(layer)]
        elif "default" in rf:
            rf = rf["default"]
        else:
            raise KeyError("The given reduction factor mapping does not give a default value and does not specify "
                           "each reduction factor individually.")
    return int(hidden // rf)


def run(task_dir: Path, base_dir: Path, inputs_path: Path, dtype_name: str) -> dict:
    ns = adapterhub_env.load()
    import torch

    import reference_encoders as R
    from fixture_io import read_safetensors

    dtype = {"float64": torch.float64, "float32": torch.float32}[dtype_name]
    d = _read_json(task_dir / "adapter_config.json", "read adapter_config.json")
    config_in = d.get("config")
    if "version" not in d and isinstance(config_in, dict) and config_in.get("non_linearity") in ns.utils.ACTIVATION_RENAME:
        config_in = {**config_in, "non_linearity": ns.utils.ACTIVATION_RENAME[config_in["non_linearity"]]}
    try:
        config = ns.adapter_config.AdapterConfig.load(config_in)
    except Exception as e:
        raise Failure(1, "AdapterConfig.load", e)
    if not isinstance(config, ns.adapter_config.BnConfig):
        raise Failure(4, "AdapterConfig.load", f"{type(config).__name__} is not a bottleneck adapter (BnConfig)")
    name = d["name"]

    cfg = _read_json(base_dir / "config.json", "read base config.json")
    if (base_dir / "model.safetensors").is_file():
        base = read_safetensors(str(base_dir / "model.safetensors"))[0]
    elif (base_dir / "pytorch_model.bin").is_file():
        base = torch.load(base_dir / "pytorch_model.bin", map_location="cpu", weights_only=True)
    else:
        raise Failure(2, "read base model", f"no model.safetensors or pytorch_model.bin in {base_dir}")
    model_type = cfg["model_type"]
    base_prefix = model_type + "." if f"{model_type}.embeddings.word_embeddings.weight" in base else ""
    hidden = cfg["hidden_size"]

    weights_file, weights = _load_weights(task_dir, "pytorch_adapter.bin", "adapter.safetensors", "read adapter weights")
    cls = ns.modeling.ParallelAdapter if config["is_parallel"] else ns.modeling.Adapter
    modules, listing, used = {}, [], set()
    for layer in range(cfg["num_hidden_layers"]):
        if layer in config["leave_out"]:
            continue
        for site, (flag, module_path) in SITES.items():
            if not config[flag]:
                continue
            pre = f"{model_type}.encoder.layer.{layer}.{module_path}.adapters.{name}."
            try:
                module = cls(adapter_name=name, input_size=hidden, down_sample=_width(config, layer, hidden),
                             config=config)
            except Exception as e:
                raise Failure(1, f"{cls.__name__}.__init__ (layer {layer}, {site})", e)
            state = {k[len(pre):]: v for k, v in weights.items() if k.startswith(pre)}
            try:
                module.load_state_dict(state, strict=True)
            except Exception as e:
                raise Failure(1, f"load_state_dict (layer {layer}, {site}, prefix {pre})", e)
            used.update(pre + k for k in state)
            modules[(layer, site)] = module.to(dtype).eval()
            listing.append({"layer": layer, "site": site, "class": cls.__name__, "width": module.down_sample,
                            "key_prefix": pre})
    unused = sorted(set(weights) - used)
    if unused:
        raise Failure(1, "load_state_dict", f"{weights_file} has keys no adapter module takes: {unused}")

    def sublayer(h, x, ln, layer, site):
        module = modules.get((layer, site))
        if module is None:
            return ln(h + x)
        hidden_states, _, residual = module.pre_forward(h, x, ln)
        out = module(hidden_states, residual_input=residual)[0]
        return module.post_forward(out, h, x, ln)

    raw_inputs = _read_json(inputs_path, "read inputs")
    inputs = raw_inputs.get("inputs", raw_inputs)
    p = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in base.items()}
    with torch.no_grad():
        out = R.encode(p, base_prefix, cfg, inputs, dtype, sublayer=sublayer)
        logits, head_file = None, None
        if (task_dir / "head_config.json").is_file():
            logits, head_file = _head(task_dir, ns, out, hidden, dtype)

    def record(t):
        return None if t is None else {"shape": list(t.shape), "data": t.detach().double().reshape(-1).tolist()}

    return {"ok": True, "adapter": name, "config_class": type(config).__name__, "weights_file": weights_file,
            "head_weights_file": head_file, "dtype": dtype_name, "modules": listing,
            "last_hidden_state": record(out["last_hidden_state"]), "pooler_output": record(out.get("pooler_output")),
            "logits": record(logits)}


def _head(task_dir: Path, ns, out: dict, hidden: int, dtype):
    import torch
    from torch import nn

    hd = _read_json(task_dir / "head_config.json", "read head_config.json")
    hc = hd.get("config") or {}
    if hc.get("head_type") != "classification":
        raise Failure(4, "head", f"head_type {hc.get('head_type')!r} is not supported (only 'classification')")
    layers = []
    for i in range(hc["layers"]):
        layers.append(nn.Dropout(0.0))
        if i < hc["layers"] - 1:
            layers.append(nn.Linear(hidden, hidden))
            if hc.get("activation_function"):
                layers.append(ns.modeling.Activation_Function_Class(hc["activation_function"]))
        else:
            layers.append(nn.Linear(hidden, hc["num_labels"], bias=hc.get("bias", True)))
    head = nn.Sequential(*layers)
    file, weights = _load_weights(task_dir, "pytorch_model_head.bin", "model_head.safetensors", "read head weights")
    pre = f"heads.{hd['name']}."
    state = {k[len(pre):]: v for k, v in weights.items() if k.startswith(pre)}
    try:
        head.load_state_dict(state, strict=True)
    except Exception as e:
        raise Failure(1, "head load_state_dict", e)
    if set(weights) - {pre + k for k in state}:
        raise Failure(1, "head load_state_dict", f"{file} has keys outside {pre}*")
    head = head.to(dtype).eval()
    features = out["pooler_output"] if hc.get("use_pooler") else out["last_hidden_state"][:, 0]
    return head(features), file


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="AdapterHub bottleneck forward (see the module docstring)")
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
    except Failure as f:
        result, code = {"ok": False, "stage": f.stage, "error": f.error}, f.code
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
