"""Token positions of each object's phrase (METHOD.md choice 4), from a host tokenizer injected as a callable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import LayoutError, user_error

STOPWORDS = ("a", "an", "the", "of", "and", "with", "on", "in", "at", "to", ",", ".")

Tokenize = Callable[[str], list[int]]  # text -> token ids laid out as the encoder's context (BOS..EOS pad)


@dataclass(frozen=True)
class TokenizerFns:
    """The host tokenizer as the core sees it: a tokenize callable and its special ids."""

    tokenize: Tokenize
    special_ids: frozenset[int]

    def content_ids(self, text: str) -> list[int]:
        """Token ids of `text` without BOS/EOS/padding."""
        return [t for t in self.tokenize(text) if t not in self.special_ids]


def find_subsequence(haystack: Sequence[int], needle: Sequence[int]) -> int | None:
    """Index of the first occurrence of `needle` in `haystack`, or None."""
    n = len(needle)
    if n == 0:
        return None
    for i in range(len(haystack) - n + 1):
        if list(haystack[i : i + n]) == list(needle):
            return i
    return None


def salient_offsets(tok: TokenizerFns, phrase: str) -> list[int]:
    """Offsets of the phrase's content tokens that are not stopwords (all of them if none remain)."""
    ids = tok.content_ids(phrase)
    stop = {t for w in STOPWORDS for t in tok.content_ids(w)}
    keep = [i for i, t in enumerate(ids) if t not in stop]
    return keep or list(range(len(ids)))


def positions_in_prompt(tok: TokenizerFns, prompt: str, phrase: str, taken: set[int] | None = None) -> list[int] | None:
    """Context positions of the phrase's salient tokens inside the prompt's encoding, or None.

    Multi-token phrases use the mean over these positions (METHOD.md choice 4). A repeated phrase
    binds to its next unused occurrence (`taken` holds positions already used).
    """
    prompt_ids = tok.tokenize(prompt)
    phrase_ids = tok.content_ids(phrase)
    offsets = salient_offsets(tok, phrase)
    taken = taken if taken is not None else set()
    start = 0
    while True:
        hit = find_subsequence(prompt_ids[start:], phrase_ids)
        if hit is None:
            return None
        pos = [start + hit + o for o in offsets]
        if not taken.intersection(pos):
            return pos
        start += hit + 1


def positions_in_phrase(tok: TokenizerFns, phrase: str) -> list[int]:
    """Context positions of the phrase's salient tokens in its own encoding."""
    ids = tok.tokenize(phrase)
    content = [i for i, t in enumerate(ids) if t not in tok.special_ids]
    offsets = salient_offsets(tok, phrase)
    return [content[o] for o in offsets]


CLIP_WINDOW = 75  # content tokens in one CLIP chunk (77 with BOS/EOS); longer text is split into chunks


def check_phrase_budget(tok: TokenizerFns, phrases: Sequence[str], window: int = CLIP_WINDOW) -> None:
    """Refuse layouts whose phrases cannot all be named in one CLIP window of the global prompt.

    Every object is read from one prompt (METHOD.md choice 4); CLIP encodes text beyond `window`
    tokens as separate chunks that do not see each other, so the objects' bindings would split.
    """
    counts = [len(tok.content_ids(p)) for p in phrases]
    if sum(counts) > window:
        raise user_error(
            f"the objects' phrases to fit in one CLIP window ({window} tokens) together",
            f"{sum(counts)} tokens for {len(phrases)} objects (longest: {max(counts)} tokens)",
            "Shorten the phrases or use fewer objects.",
            LayoutError,
        )
