"""Loads PEFT's own config dataclasses (LoraConfig, IA3Config) from a PEFT source tree under small stubs.

Source tree: the folder holding ``src/peft`` (default /tmp/ref/huggingface+peft, override with the
environment variable ADAPTERKIT_PEFT_DIR). Files executed unchanged, as the modules PEFT gives them:
  src/peft/utils/peft_types.py     PeftType, TaskType
  src/peft/config.py               PeftConfigMixin / PeftConfig (to_dict, save_pretrained's JSON form)
  src/peft/tuners/lora/config.py   LoraConfig
  src/peft/tuners/ia3/config.py    IA3Config
Stubs for what they import from elsewhere: ``peft`` (package, __version__ read from src/peft/__init__.py),
``peft.utils`` (CONFIG_NAME, PeftType, TaskType), ``transformers.utils`` (PushToHubMixin,
http_user_agent), ``huggingface_hub.hf_hub_download`` (placeholder), ``packaging.version.Version``
(only ``.dev`` is used, to decide whether a commit hash is appended to peft_version).

:func:`load` exits with code 3 and a message when torch or the PEFT source tree is missing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import types
from pathlib import Path

EXIT_ENVIRONMENT = 3
DEFAULT_PEFT_DIR = "/tmp/ref/huggingface+peft"
FILES = ("utils/peft_types.py", "config.py", "tuners/lora/config.py", "tuners/ia3/config.py", "__init__.py")


def peft_dir() -> Path:
    return Path(os.environ.get("ADAPTERKIT_PEFT_DIR", DEFAULT_PEFT_DIR))


def available() -> bool:
    src = peft_dir() / "src" / "peft"
    return all((src / f).is_file() for f in FILES)


def require() -> Path:
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.stderr.write(f"adapterkit interop: PyTorch is not importable from {sys.executable}; "
                         "use Debian's /usr/bin/python3 with python3-torch.\n")
        sys.exit(EXIT_ENVIRONMENT)
    src = peft_dir() / "src" / "peft"
    missing = [f for f in FILES if not (src / f).is_file()]
    if missing:
        sys.stderr.write(f"adapterkit interop: PEFT's source files are missing under {src} ({', '.join(missing)}); "
                         "set ADAPTERKIT_PEFT_DIR to a folder holding src/peft.\n")
        sys.exit(EXIT_ENVIRONMENT)
    return src


def _stub(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


def _exec_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


class _Version:
    """packaging.version.Version, reduced to what PEFT's config asks (``.dev``)."""

    def __init__(self, text: str):
        m = re.search(r"\.dev(\d+)", text)
        self.dev = int(m.group(1)) if m else None


_LOADED: dict = {}


def load() -> types.SimpleNamespace:
    """namespace(PeftType, TaskType, LoraConfig, IA3Config, version, src)."""
    if _LOADED:
        return _LOADED["ns"]
    src = require()
    version = re.search(r'__version__\s*=\s*"([^"]+)"', (src / "__init__.py").read_text()).group(1)
    if "transformers" not in sys.modules:
        _stub("transformers")
    tutils = sys.modules.get("transformers.utils") or _stub("transformers.utils")
    tutils.PushToHubMixin = type("PushToHubMixin", (), {})
    if not hasattr(tutils, "http_user_agent"):
        tutils.http_user_agent = lambda *a, **k: "adapterkit-interop"
    hub = sys.modules.get("huggingface_hub") or _stub("huggingface_hub")
    if not isinstance(getattr(hub, "hf_hub_download", None), types.FunctionType):
        def hf_hub_download(*args, **kwargs):
            raise RuntimeError("hf_hub_download is a stub in adapterkit's interop harness")
        hub.hf_hub_download = hf_hub_download
    try:
        import packaging.version  # noqa: F401
    except ImportError:
        _stub("packaging").version = _stub("packaging.version", Version=_Version)
    peft = _stub("peft", __version__=version, __path__=[])
    types_mod = _exec_file("peft.utils.peft_types", src / "utils" / "peft_types.py")
    utils = _stub("peft.utils", __path__=[], CONFIG_NAME="adapter_config.json",
                  PeftType=types_mod.PeftType, TaskType=types_mod.TaskType)
    peft.utils = utils
    config = _exec_file("peft.config", src / "config.py")
    _stub("peft.tuners", __path__=[])
    _stub("peft.tuners.lora", __path__=[])
    _stub("peft.tuners.ia3", __path__=[])
    lora = _exec_file("peft.tuners.lora.config", src / "tuners" / "lora" / "config.py")
    ia3 = _exec_file("peft.tuners.ia3.config", src / "tuners" / "ia3" / "config.py")
    ns = types.SimpleNamespace(PeftType=types_mod.PeftType, TaskType=types_mod.TaskType, PeftConfig=config.PeftConfig,
                               LoraConfig=lora.LoraConfig, IA3Config=ia3.IA3Config, version=version, src=src)
    _LOADED["ns"] = ns
    return ns


def config_class(ns: types.SimpleNamespace, peft_type: str):
    return {"LORA": ns.LoraConfig, "IA3": ns.IA3Config}[peft_type]


def saved_text(config) -> str:
    """What ``PeftConfigMixin.save_pretrained`` writes for ``config``: to_dict(), sets turned into lists
    (sorted here; PEFT's own order is the set's iteration order, which varies between runs), then
    ``json.dumps(indent=2, sort_keys=True)`` without a trailing newline."""
    out = config.to_dict()
    for key, value in out.items():
        if isinstance(value, set):
            out[key] = sorted(value)
    return json.dumps(out, indent=2, sort_keys=True)
