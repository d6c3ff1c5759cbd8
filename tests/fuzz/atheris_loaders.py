"""Coverage-guided fuzzing of ``load_file`` with atheris (not part of the pytest run).

    .venv/bin/python tests/fuzz/atheris_loaders.py -max_total_time=600 -timeout=10 -rss_limit_mb=1500 /tmp/corpus

The first input byte picks the file type, the rest is the file. Anything but documents
or a one-line ``LoadError`` is a finding (atheris stops and saves the input); so is an
input slower than ``-timeout`` or bigger than ``-rss_limit_mb``. The corpus folder is
seeded with the valid files tests/test_fuzz_loaders.py starts from.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import atheris  # noqa: E402

with atheris.instrument_imports():
    import bs4  # noqa: F401
    import docx  # noqa: F401
    import pypdf  # noqa: F401
    import yaml  # noqa: F401

    from assistant import loaders

SUFFIXES = loaders.SUPPORTED_SUFFIXES
FOLDER = Path(tempfile.mkdtemp(prefix="atheris-loaders-"))


def seed_corpus(folder: Path) -> None:
    from tests.test_fuzz_loaders import seeds

    folder.mkdir(parents=True, exist_ok=True)
    for name, (suffix, data) in seeds().items():
        (folder / name).write_bytes(bytes([SUFFIXES.index(suffix)]) + data)


def one_input(raw: bytes) -> None:
    if not raw:
        return
    suffix = SUFFIXES[raw[0] % len(SUFFIXES)]
    path = FOLDER / f"input{suffix}"
    path.write_bytes(raw[1:])
    try:
        docs = loaders.load_file(path, FOLDER, 50 * 1024 * 1024)
    except loaders.LoadError as exc:
        message = str(exc)
        if "\n" in message or not exc.reason or "could not read this" in exc.reason:
            raise AssertionError(f"bad LoadError message: {message!r}") from exc
        return
    finally:
        path.unlink(missing_ok=True)
    assert docs and all(d.text and "\x00" not in d.text for d in docs), docs


if __name__ == "__main__":
    folders = [Path(arg) for arg in sys.argv[1:] if not arg.startswith("-")]
    if folders and (not folders[0].exists() or not any(folders[0].iterdir())):
        seed_corpus(folders[0])
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
