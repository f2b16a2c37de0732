#!/usr/bin/python3
"""PEFT's view of our PEFT adapter_config.json files, for test/interop/peft.test.ts, in one Python process.

stdin: {"match": [{"config": <adapter_config.json as an object>, "modules": [<module names>]}],
        "configs": [<adapter_config.json path>...]}
stdout: {"match": [{"targets": [...], "feedforward": [...]}], "configs": [{"code": ..., ...}]}

"match" applies PEFT's rule for which modules an adapter goes into, written out here from
peft @ 5d602fd (Python's own ``re``; PEFT's tuners_utils.py imports torch, transformers and
accelerate, so the function itself is not imported):
  src/peft/tuners/tuners_utils.py ``check_target_module_exists``: modules matching
    ``(^|.*\\.){m}($|\\..*)`` for an ``m`` of modules_to_save are never targets; a str target_modules
    is ``re.fullmatch``-ed (other.py ``match_target_against_key``); a list matches a key that is in it
    or ends with "." + an entry, and then ``layers_to_transform`` keeps the layer index found by
    ``re.match(r".*?\\.[^.]*\\.(\\d+)\\.", key)`` (layers_pattern unset);
  src/peft/tuners/ia3/model.py ``_check_target_module_feedforward``: of the targets, a str
    feedforward_modules is ``re.fullmatch``-ed, a list matches a key that ends with an entry (no dot).
"configs" runs scripts/interop/peft_config.py's ``check`` on each file (needs the PEFT source tree).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def is_target(config: dict, key: str) -> bool:
    exclude = config.get("exclude_modules")
    if exclude:
        if isinstance(exclude, str):
            if re.fullmatch(exclude, key):
                return False
        elif key in exclude or any(key.endswith(f".{e}") for e in exclude):
            return False
    for m in config.get("modules_to_save") or []:
        if re.match(rf"(^|.*\.){m}($|\..*)", key):
            return False
    target = config.get("target_modules")
    if isinstance(target, str):
        return re.fullmatch(target, key) is not None
    if key in target:
        return True
    found = any(key.endswith(f".{t}") for t in target)
    layers = config.get("layers_to_transform")
    using_layers = layers is not None and (len(layers) != 0 if isinstance(layers, list) else True)
    if using_layers and found:
        if config.get("layers_pattern"):
            raise ValueError("layers_pattern is not used by adapterkit's files")
        m = re.match(r".*?\.[^.]*\.(\d+)\.", key)
        if m is None:
            return False
        index = int(m.group(1))
        return index == layers if isinstance(layers, int) else index in layers
    return found


def is_feedforward(config: dict, key: str) -> bool:
    ff = config.get("feedforward_modules")
    if isinstance(ff, str):
        return re.fullmatch(ff, key) is not None
    return any(key.endswith(t) for t in ff or [])


def main() -> int:
    req = json.load(sys.stdin)
    out = {"match": [], "configs": []}
    for item in req.get("match", []):
        config = item["config"]
        targets = [k for k in item["modules"] if is_target(config, k)]
        feedforward = [k for k in targets if is_feedforward(config, k)] if config.get("peft_type") == "IA3" else []
        out["match"].append({"targets": targets, "feedforward": feedforward})
    if req.get("configs"):
        sys.path.insert(0, str(REPO / "scripts" / "interop"))
        import peft_config

        for path in req["configs"]:
            code, result = peft_config.check(path)
            out["configs"].append({"code": code, **result})
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
