"""tiktoken ``cl100k_base`` that works offline.

``tiktoken.get_encoding`` downloads its BPE file on first use, which fails on a
machine without internet. The file ships inside this package (index/data/) and
is verified against tiktoken's published hash. Another copy may be named by the
settings (``CITELINE_TIKTOKEN_BPE``): the entry point reads the settings and calls
:func:`use_bpe_file` once; index/ itself never reads the environment.

The path is a process-wide default rather than an argument of every function that
counts tokens: any file that passes the hash check gives the same encoding, so the
path only locates one immutable resource (like the bundled model), and threading it
through the chunker, prompt budgets and routes would add parameters that cannot
change a result. Ray's worker processes get it passed with their tasks
(ingest/ray_ingest.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import tiktoken
from tiktoken.load import load_tiktoken_bpe

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_BUNDLED = Path(__file__).parent / "data" / "cl100k_base.tiktoken"
# Copied from tiktoken_ext.openai_public.cl100k_base, whose constructor insists on a URL.
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


_default: Path = _BUNDLED


def load_cl100k(path: Path | None = None) -> tiktoken.Encoding:
    """The cl100k_base encoding from ``path`` (None: the bundled copy), once per file."""
    return _load(Path(path) if path is not None else _BUNDLED)


@lru_cache(maxsize=4)
def _load(path: Path) -> tiktoken.Encoding:
    if not path.is_file():
        raise FileNotFoundError(
            f"tiktoken BPE file not found at {path}; set CITELINE_TIKTOKEN_BPE to a "
            "copy of cl100k_base.tiktoken"
        )
    try:
        ranks = load_tiktoken_bpe(str(path), expected_hash=CL100K_SHA256)
    except ValueError:  # tiktoken's hash mismatch (or a file that is not BPE ranks)
        raise ValueError(
            f"{path} is not tiktoken's cl100k_base.tiktoken (expected sha256 {CL100K_SHA256})"
        ) from None
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=_CL100K_PAT, mergeable_ranks=ranks, special_tokens=_SPECIAL
    )


def use_bpe_file(path: Path | None) -> None:
    """Make ``path`` (None: the bundled copy) this process's BPE file. Another file is
    loaded at once, so a wrong path fails at start-up rather than at the first passage
    or question; the bundled one is loaded when first needed."""
    global _default
    if path is not None:
        _load(Path(path))
    _default = Path(path) if path is not None else _BUNDLED


def cl100k() -> tiktoken.Encoding:
    """The cl100k_base encoding from this process's BPE file (see :func:`use_bpe_file`)."""
    return _load(_default)


def count_tokens(text: str) -> int:
    return len(cl100k().encode_ordinary(text))
