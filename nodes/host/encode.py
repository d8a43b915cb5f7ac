"""The host's CLIP as the core needs it: a tokenizer callable (tokens.TokenizerFns) and phrase encodings."""

from __future__ import annotations

from ...lrdm_core.errors import user_error
from ...lrdm_core.layout import Layout
from ...lrdm_core.tokens import TokenizerFns, check_phrase_budget, positions_in_phrase, positions_in_prompt


def tokenizer_fns(clip) -> TokenizerFns:
    """Wrap clip.tokenize: ids of the 'l' (CLIP-L) stream, chunks flattened, as the context lays them out."""

    def tokenize(text: str) -> list[int]:
        streams = clip.tokenize(text)
        key = "l" if "l" in streams else next(iter(streams))
        return [_token_id(t) for chunk in streams[key] for t in chunk]

    return TokenizerFns(tokenize=tokenize, special_ids=frozenset(tokenize("")))


def _token_id(t) -> int:
    """Token id of a (token, weight[, word_id]) tuple; embeddings (tensors) map to -1."""
    tok = t[0]
    return tok if isinstance(tok, int) else -1


def encode(clip, text: str):
    """CONDITIONING for `text`, exactly as CLIPTextEncode makes it."""
    if clip is None:
        raise user_error("a CLIP input", "None", "Connect the checkpoint loader's CLIP output.")
    return clip.encode_from_tokens_scheduled(clip.tokenize(text))


def object_conditionings(clip, layout: Layout) -> tuple:
    """One CONDITIONING per object from its phrase (the default; the paper's Fig. 3)."""
    return tuple(encode(clip, o.phrase) for o in layout.objects)


def token_positions(clip, layout: Layout, prompt: str) -> tuple[tuple, tuple]:
    """Per object: positions in the global prompt (or None) and in its own phrase encoding."""
    tok = tokenizer_fns(clip)
    check_phrase_budget(tok, layout.phrases())
    taken: set[int] = set()
    in_prompt = []
    for o in layout.objects:
        pos = positions_in_prompt(tok, prompt, o.phrase, taken) if prompt.strip() else None
        if pos:
            taken.update(pos)
        in_prompt.append(pos or None)
    in_phrase = tuple(positions_in_phrase(tok, o.phrase) for o in layout.objects)
    for o, pp in zip(layout.objects, in_phrase, strict=True):
        if not pp:
            raise user_error("a phrase with at least one token", repr(o.phrase), "Type a word for the object.")
    return tuple(in_prompt), in_phrase
