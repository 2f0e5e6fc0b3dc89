"""tiktoken ``cl100k_base`` that works offline.

``tiktoken.get_encoding`` downloads its BPE file on first use, which fails on a
machine without internet. The file ships inside this package (index/data/) and
is verified against tiktoken's published hash; ``CITELINE_TIKTOKEN_BPE`` may point
at another copy.
"""

from __future__ import annotations

import os
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


@lru_cache(maxsize=1)
def cl100k() -> tiktoken.Encoding:
    """The cl100k_base encoding, loaded once per process from a local file."""
    path = Path(os.environ.get("CITELINE_TIKTOKEN_BPE", _BUNDLED))
    if not path.is_file():
        raise FileNotFoundError(
            f"tiktoken BPE file not found at {path}; set CITELINE_TIKTOKEN_BPE to a "
            "copy of cl100k_base.tiktoken"
        )
    ranks = load_tiktoken_bpe(str(path), expected_hash=CL100K_SHA256)
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=_CL100K_PAT, mergeable_ranks=ranks, special_tokens=_SPECIAL
    )


def count_tokens(text: str) -> int:
    return len(cl100k().encode_ordinary(text))
