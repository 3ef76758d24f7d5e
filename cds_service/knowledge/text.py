"""Text folding for whole-word name matching (drug, condition and intervention names)."""

from __future__ import annotations

import re

_NOT_ALNUM = re.compile(r"[\W_]+")  # \W is "not alphanumeric, not _" (str.isalnum's classes)


def fold_text(text: str) -> str:
    """Lower-case, letters and digits only, single-spaced, padded: for whole-word matching."""
    return " " + _NOT_ALNUM.sub(" ", text.lower()).strip(" ") + " "
