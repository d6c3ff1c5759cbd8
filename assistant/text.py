"""Small text helpers shared by several stages (loading, indexing, retrieval)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

_EXTRA_FOLDS = str.maketrans({"đ": "d", "Đ": "d", "ø": "o", "ł": "l", "ß": "ss"})


def nfc(text: str) -> str:
    """Unicode NFC: Vietnamese arrives both precomposed and decomposed."""
    return unicodedata.normalize("NFC", text)


def fold_diacritics(text: str) -> str:
    """Lower-case and strip diacritics (đ→d): 'Đăng ký' → 'dang ky'.

    Used so that a question typed without accents still finds accented text.
    """
    decomposed = unicodedata.normalize("NFD", text.lower().translate(_EXTRA_FOLDS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Letters only Vietnamese uses (breve, horn, đ, and tone marks absent from French/Spanish).
_VI_LETTERS = re.compile("[ăằắẳẵặầấẩẫậđềếểễệồốổỗộơờớởỡợưừứửữựảạẻẽẹỉĩịỏọủũụỳỷỹỵ]", re.IGNORECASE)
_LETTERS = re.compile(r"[^\W\d_]")


def detect_language(text: str) -> str:
    """'vi' when Vietnamese-only letters are at least 2% of all letters, else 'en'.

    Deterministic and enough for the two languages this assistant serves.
    Vietnamese typed without diacritics comes out 'en'.
    """
    text = nfc(text)
    letters = len(_LETTERS.findall(text))
    return "vi" if letters and len(_VI_LETTERS.findall(text)) / letters >= 0.02 else "en"


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Words that carry no subject in a question (``data/stopwords.txt``), as written.

    Kept with diacritics: folded, "thì" would swallow "thí" and "họ" "hộ".
    """
    words = (Path(__file__).parent / "data" / "stopwords.txt").read_text(encoding="utf-8").split()
    return frozenset(w.lower() for w in words if not w.startswith("#"))
