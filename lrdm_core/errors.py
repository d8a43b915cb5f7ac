"""The one exception type users see from the core: what was expected, what was got, how to fix."""


class LRDMError(ValueError):
    """A problem the user can fix; the message names what was expected, what was got and the fix."""


class LayoutError(LRDMError):
    """A layout that cannot be used (bad JSON, box, mask or phrase)."""


def user_error(expected: str, got: str, fix: str, cls: type[LRDMError] = LRDMError) -> LRDMError:
    """Build an error whose message follows the pack's 'expected / got / fix' convention."""
    return cls(f"Expected {expected}, got {got}. {fix}")
