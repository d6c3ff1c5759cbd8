"""Small text helpers shared by several stages (loading, indexing, retrieval)."""

from __future__ import annotations

import unicodedata

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
