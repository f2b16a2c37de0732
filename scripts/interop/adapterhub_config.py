#!/usr/bin/python3
"""AdapterHub's own verdict on an adapter_config.json (bottleneck, LoRA, IA³, unions, ...).

Usage:
    /usr/bin/python3 scripts/interop/adapterhub_config.py <adapter_config.json>

What runs (AdapterHub's unchanged code from ../shared/interop/adapterhub, see adapterhub_env.py):
1. the file is read as JSON ``d``; as AdapterHub's loader does for files without a "version" key
   (adapter-transformers v1/v2 files), ``config.non_linearity`` is renamed by AdapterHub's
   ``ACTIVATION_RENAME`` ("gelu" -> "gelu_new", "gelu_orig" -> "gelu"), reported as ``legacy_rename``;
2. ``cfg = AdapterConfig.load(d["config"])``;
3. for bottleneck configs (BnConfig, also inside a ConfigUnion), AdapterHub's real ``Adapter`` /
   ``ParallelAdapter`` module is constructed for each distinct reduction factor with AdapterHub's size
   rule ``int(hidden_size // reduction_factor)`` (that is where e.g. an int ``"scaling": 1`` fails with
   AdapterHub's "Unknown scaling type: 1");
4. ``json.dumps({**d, "config": cfg.to_dict()}, indent=2, sort_keys=True)`` (what AdapterHub would
   write back, no trailing newline) is compared with the file's text byte for byte.

Output: one JSON object on stdout.
    accepted: {"ok": true, "file": ..., "class": "DoubleSeqBnConfig", "architecture": null | "lora" | ...,
               "config": cfg.to_dict(), "byte_identical": bool, "expected_text": <only when not identical>,
               "legacy_rename": null | {"from": "gelu", "to": "gelu_new"},
               "modules": [{"class": "Adapter", "reduction_factor": 8, "width": 4,
                            "state_dict": {"adapter_down.0.weight": [4, 32], ...}}, ...]}
    rejected: {"ok": false, "file": ..., "stage": "AdapterConfig.load" | "Adapter.__init__",
               "error": {"type": "ValueError", "message": "Unknown scaling type: 1"}, ...}
Exit codes: 0 accepted, 1 rejected by AdapterHub, 2 usage error / unreadable or non-JSON file,
3 torch or ../shared/interop/adapterhub missing.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adapterhub_env  # noqa: E402


def _error(e: BaseException) -> dict:
    message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    return {"type": type(e).__name__, "message": str(message)}


def _bottleneck_configs(cfg, ns) -> list:
    ac = ns.adapter_config
    if isinstance(cfg, ac.ConfigUnion):
        return [c for c in cfg.configs if isinstance(c, ac.BnConfig)]
    return [cfg] if isinstance(cfg, ac.BnConfig) else []


def _build_modules(cfg, hidden_size: int, name: str, ns) -> list:
    out = []
    for bn in _bottleneck_configs(cfg, ns):
        rf = bn["reduction_factor"]
        factors = sorted(set(rf.values()), key=float) if isinstance(rf, Mapping) else [rf]
        cls = ns.modeling.ParallelAdapter if bn["is_parallel"] else ns.modeling.Adapter
        for factor in factors:
            width = int(hidden_size // factor)
            module = cls(adapter_name=name, input_size=hidden_size, down_sample=width, config=bn)
            out.append({"class": cls.__name__, "reduction_factor": factor, "width": module.down_sample,
                        "state_dict": {k: list(v.shape) for k, v in module.state_dict().items()}})
    return out


def check(path: str) -> tuple[int, dict]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        d = json.loads(text)
    except (OSError, ValueError) as e:
        return 2, {"ok": False, "file": path, "stage": "read", "error": _error(e)}
    if not isinstance(d, dict) or "config" not in d:
        return 2, {"ok": False, "file": path, "stage": "read",
                   "error": {"type": "ValueError", "message": "not an AdapterHub adapter_config.json (no 'config')"}}
    ns = adapterhub_env.load()
    config_in = d["config"]
    legacy = None
    if "version" not in d and isinstance(config_in, dict):
        act = config_in.get("non_linearity")
        if act in ns.utils.ACTIVATION_RENAME:
            legacy = {"from": act, "to": ns.utils.ACTIVATION_RENAME[act]}
            config_in = {**config_in, "non_linearity": legacy["to"]}
    result = {"file": path, "legacy_rename": legacy}
    try:
        cfg = ns.adapter_config.AdapterConfig.load(config_in)
    except Exception as e:  # AdapterHub's own error, reported verbatim
        return 1, {"ok": False, **result, "stage": "AdapterConfig.load", "error": _error(e)}
    if cfg is None:
        return 1, {"ok": False, **result, "stage": "AdapterConfig.load",
                   "error": {"type": "ValueError", "message": "AdapterConfig.load returned None (empty config)"}}
    result.update({"class": type(cfg).__name__, "architecture": getattr(cfg, "architecture", None),
                   "config": cfg.to_dict()})
    try:
        result["modules"] = _build_modules(cfg, int(d.get("hidden_size") or 0), d.get("name", "adapter"), ns)
    except Exception as e:
        return 1, {"ok": False, **result, "stage": "Adapter.__init__", "error": _error(e)}
    expected = json.dumps({**d, "config": cfg.to_dict()}, indent=2, sort_keys=True)
    result["byte_identical"] = expected == text
    if not result["byte_identical"]:
        result["expected_text"] = expected
    return 0, {"ok": True, **result}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    code, out = check(argv[0])
    print(json.dumps(out, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
