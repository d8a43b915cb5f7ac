"""The one exception type users see from the core: what was expected, what was got, how to fix."""

from __future__ import annotations

import reprlib
from typing import Any

QUOTE_CHARS = 60  # the longest user text an error message quotes (multi-megabyte phrases are cut)

_REPR = reprlib.Repr()
_REPR.maxstring = QUOTE_CHARS
_REPR.maxother = QUOTE_CHARS
_REPR.maxlong = 24
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


class LRDMError(ValueError):
    """A problem the user can fix; the message names what was expected, what was got and the fix."""


class LayoutError(LRDMError):
    """A layout that cannot be used (bad JSON, box, mask or phrase)."""


def user_error(expected: str, got: str, fix: str, cls: type[LRDMError] = LRDMError) -> LRDMError:
    """Build an error whose message follows the pack's 'expected / got / fix' convention."""
    return cls(f"Expected {expected}, got {got}. {fix}")


def quote(value: Any) -> str:
    """A short repr of user input for a message: long strings, lists and numbers are cut ('...')."""
    try:
        return _REPR.repr(value)
    except Exception:  # noqa: BLE001 - e.g. an int beyond Python's str-conversion limit
        return f"<{type(value).__name__}>"
