"""Loads AdapterHub's own code (three unchanged files of adapter-hub/adapters 1.2.0) under small stubs.

The files live outside the repository, at ``../shared/interop/adapterhub/src/adapters/`` relative to
the repository root (override with the environment variable ADAPTERKIT_ADAPTERHUB_DIR, pointing at
the folder that holds ``src/adapters``):
  configuration/adapter_config.py   AdapterConfig.load, every config class, ADAPTER_CONFIG_MAP
  methods/modeling.py               the real Adapter / ParallelAdapter bottleneck modules
  utils.py                          resolve_adapter_config, parse_adapter_config_string (+ unused helpers)

Nothing is copied: each file is executed as the module AdapterHub gives it (``adapters.utils``,
``adapters.configuration.adapter_config``, ``adapters.methods.modeling``). What those files import
from outside the three files is stubbed here, and only that:
  transformers.activations.get_activation   the activations AdapterHub's configs name, as torch modules
                                            (gelu = exact erf GELU, gelu_new = tanh approximation,
                                            relu, swish / silu, tanh, sigmoid, ...), KeyError otherwise
  transformers.utils(.import_utils)         http_user_agent, is_remote_url, is_torchvision_available
  huggingface_hub, filelock (and requests when absent)   placeholders; only hub downloads use them
  adapters (package)                        __version__ = "1.2.0"
  adapters.context.ForwardContext           get_context() -> None (no forward context: single adapter)
  adapters.configuration                    re-exports adapter_config.py + a placeholder AdapterFusionConfig
  adapters.methods.utils.fix_seed           seeds torch when a seed is given (weights are loaded anyway)

Use :func:`load` to get the modules; it exits with code 3 and a message on stderr when torch or the
AdapterHub folder is missing (see :func:`require`).
"""
from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

EXIT_ENVIRONMENT = 3
ADAPTERHUB_VERSION = "1.2.0"
REPO_ROOT = Path(__file__).resolve().parents[2]


def adapterhub_dir() -> Path:
    """The folder holding ``src/adapters`` (default ``<repo>/../shared/interop/adapterhub``)."""
    override = os.environ.get("ADAPTERKIT_ADAPTERHUB_DIR")
    return Path(override) if override else (REPO_ROOT / ".." / "shared" / "interop" / "adapterhub").resolve()


REQUIRED_FILES = ("configuration/adapter_config.py", "methods/modeling.py", "utils.py")


def require() -> Path:
    """Exit with code 3 and a clear message when torch or AdapterHub's files are not available."""
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.stderr.write("adapterkit interop: PyTorch is not importable from this Python "
                         f"({sys.executable}); use Debian's /usr/bin/python3 with python3-torch.\n")
        sys.exit(EXIT_ENVIRONMENT)
    src = adapterhub_dir() / "src" / "adapters"
    missing = [f for f in REQUIRED_FILES if not (src / f).is_file()]
    if missing:
        sys.stderr.write(f"adapterkit interop: AdapterHub's files are missing under {src} ({', '.join(missing)}); "
                         "expected ../shared/interop/adapterhub next to the repository "
                         "(or set ADAPTERKIT_ADAPTERHUB_DIR).\n")
        sys.exit(EXIT_ENVIRONMENT)
    return src


def _stub(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


class _Placeholder:
    """Stands in for hub/network helpers that the loaded files import but the harness never calls."""

    def __init__(self, name: str):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} is a stub in adapterkit's interop harness (no hub access)")

    def __getattr__(self, item):
        return _Placeholder(f"{self._name}.{item}")


def _placeholder_module(name: str) -> types.ModuleType:
    mod = _stub(name)
    mod.__getattr__ = lambda item: _Placeholder(f"{name}.{item}")  # PEP 562
    return mod


def _get_activation(name: str):
    """transformers.activations.get_activation for the names AdapterHub configs use."""
    import math

    import torch
    from torch import nn

    class NewGELU(nn.Module):  # transformers' NewGELUActivation (tanh approximation)
        def forward(self, x):
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    table = {
        "gelu": nn.GELU, "gelu_new": NewGELU, "gelu_pytorch_tanh": lambda: nn.GELU(approximate="tanh"),
        "relu": nn.ReLU, "silu": nn.SiLU, "swish": nn.SiLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
        "linear": nn.Identity,
    }
    if name not in table:
        raise KeyError(f"function {name} not found in ACT2FN mapping {list(table)}")
    return table[name]()


def _fix_seed(seed=None):
    if seed is not None:
        import torch
        torch.manual_seed(seed)


def _exec_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


_LOADED: dict = {}


def load() -> types.SimpleNamespace:
    """Returns namespace(adapter_config=<module>, modeling=<module>, utils=<module>, version="1.2.0")."""
    if _LOADED:
        return _LOADED["ns"]
    src = require()
    # third-party imports of utils.py / modeling.py
    transformers = _stub("transformers")
    transformers.activations = _stub("transformers.activations", get_activation=_get_activation)
    tutils = _stub("transformers.utils", http_user_agent=lambda *a, **k: "adapterkit-interop",
                   is_remote_url=lambda url: str(url).startswith(("http://", "https://")))
    transformers.utils = tutils
    tutils.import_utils = _stub("transformers.utils.import_utils", is_torchvision_available=lambda: False)
    for name in ("huggingface_hub", "huggingface_hub.file_download", "huggingface_hub.utils", "filelock"):
        if name not in sys.modules:
            _placeholder_module(name)
    try:
        import requests  # noqa: F401
        import requests.exceptions  # noqa: F401
    except ImportError:
        _placeholder_module("requests")
        _stub("requests.exceptions", HTTPError=type("HTTPError", (Exception,), {}))
    # the rest of the adapters package that the three files import
    pkg = _stub("adapters", __version__=ADAPTERHUB_VERSION, __path__=[])
    context = _stub("adapters.context")

    class ForwardContext:  # no context: a plain forward of one active adapter
        @classmethod
        def get_context(cls):
            return None

    context.ForwardContext = ForwardContext
    pkg.context = context
    pkg.utils = _exec_file("adapters.utils", src / "utils.py")
    configuration = _stub("adapters.configuration", __path__=[])
    pkg.configuration = configuration
    adapter_config = _exec_file("adapters.configuration.adapter_config", src / "configuration" / "adapter_config.py")
    configuration.__dict__.update({k: v for k, v in adapter_config.__dict__.items() if not k.startswith("__")})
    configuration.AdapterFusionConfig = type("AdapterFusionConfig", (), {})  # not used by a single adapter
    methods = _stub("adapters.methods", __path__=[])
    pkg.methods = methods
    methods.utils = _stub("adapters.methods.utils", fix_seed=_fix_seed)
    modeling = _exec_file("adapters.methods.modeling", src / "methods" / "modeling.py")
    ns = types.SimpleNamespace(adapter_config=adapter_config, modeling=modeling, utils=pkg.utils,
                               version=ADAPTERHUB_VERSION, src=src)
    _LOADED["ns"] = ns
    return ns


def saved_config_text(config_dict: dict, *, hidden_size: int, name: str, model_type: str = "bert",
                      model_class: str = "BertAdapterModel", model_name=None) -> str:
    """The text AdapterHub writes to adapter_config.json (``build_full_config`` + ``json.dump(indent=2,
    sort_keys=True)``, no trailing newline) for an adapter whose ``config.to_dict()`` is ``config_dict``."""
    import json

    full = {"config": config_dict, "hidden_size": hidden_size, "model_class": model_class,
            "model_name": model_name, "model_type": model_type, "name": name,
            "version": "adapters." + ADAPTERHUB_VERSION}
    return json.dumps(full, indent=2, sort_keys=True)
