#!/usr/bin/python3
"""PEFT's own verdict on a PEFT adapter_config.json (LoRA or IA³), from PEFT's config dataclasses.

Usage:
    /usr/bin/python3 scripts/interop/peft_config.py <adapter_config.json>
PEFT source: a folder holding src/peft (ADAPTERKIT_PEFT_DIR, default /tmp/ref/huggingface+peft); see
peft_env.py for what is executed and what is stubbed.

What runs: the file is read as JSON ``d``; the class is chosen by ``d["peft_type"]`` (LORA -> LoraConfig,
IA3 -> IA3Config) and built as ``PeftConfig.from_peft_type`` does, ``cls(**d)`` (fields a newer PEFT
wrote and this one lacks make that fail; they are reported, not dropped); then what ``save_pretrained``
would write back (``to_dict()``, sets as lists, ``json.dumps(indent=2, sort_keys=True)``, no newline) is
compared with the file's text. PEFT writes sets (target_modules, feedforward_modules, exclude_modules
given as lists) in set iteration order, which varies between runs; the comparison sorts those lists on
both sides and says so in ``set_fields``.

Output: one JSON object on stdout:
    {"ok": true, "file": ..., "class": "LoraConfig", "peft_version": "<of the source>", "config": to_dict(),
     "byte_identical": bool, "set_fields": [...], "missing_fields": [...], "expected_text": <when not identical>}
    {"ok": false, "file": ..., "stage": "read" | "config", "error": {"type": ..., "message": ...}}
Exit codes: 0 accepted, 1 rejected by PEFT's config class, 2 usage / unreadable file, 3 torch or the PEFT
source missing, 4 a peft_type other than LORA / IA3.
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peft_env  # noqa: E402


def check(path: str) -> tuple[int, dict]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        d = json.loads(text)
    except (OSError, ValueError) as e:
        return 2, {"ok": False, "file": path, "stage": "read", "error": {"type": type(e).__name__, "message": str(e)}}
    ns = peft_env.load()
    if not isinstance(d, dict) or d.get("peft_type") not in ("LORA", "IA3"):
        kind = d.get("peft_type") if isinstance(d, dict) else None
        return 4, {"ok": False, "file": path, "stage": "read",
                   "error": {"type": "Unsupported", "message": f"peft_type {kind!r} (only LORA and IA3)"}}
    cls = peft_env.config_class(ns, d["peft_type"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = cls(**d)
    except Exception as e:
        return 1, {"ok": False, "file": path, "stage": "config", "class": cls.__name__,
                   "error": {"type": type(e).__name__, "message": str(e)}}
    written = config.to_dict()
    set_fields = sorted(k for k, v in written.items() if isinstance(v, set))
    expected = peft_env.saved_text(config)
    normalised = json.dumps({k: (sorted(v) if k in set_fields and isinstance(v, list) else v) for k, v in d.items()},
                            indent=2, sort_keys=True)
    out = {"ok": True, "file": path, "class": cls.__name__, "peft_version": ns.version,
           "config": json.loads(expected), "byte_identical": expected == text if not set_fields else expected == normalised,
           "set_fields": set_fields, "missing_fields": sorted(set(json.loads(expected)) - set(d))}
    if not out["byte_identical"]:
        out["expected_text"] = expected
    return 0, out


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    code, out = check(argv[0])
    print(json.dumps(out, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
