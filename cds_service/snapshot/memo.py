"""Answers that depend only on the knowledge base and a drug's or problem's JSON, remembered.

The same codes and product names recur across a hospital's patients, so classifying them or
reading a strength printed in a name once per knowledge base saves tens of microseconds per
medication on every call. The memo lives on the knowledge base (a reload starts empty).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import orjson

from cds_service.knowledge import KnowledgeBase

T = TypeVar("T")
# Entries per memo table; past it the table starts over (bounded memory, no LRU book-keeping).
MEMO_LIMIT = 4096
_MISSING: Any = object()


def memoised(kb: KnowledgeBase, table: str, value: Any, compute: Callable[[], T]) -> T:
    """``compute()``, remembered per knowledge base for this exact JSON ``value`` (``None``
    answers included). ``compute`` must depend on nothing but the knowledge base and ``value``.
    Values that are not plain JSON are computed every time."""
    try:
        key = orjson.dumps(value)
    except TypeError:  # another Mapping type, an integer beyond 64 bits...
        return compute()
    memo = kb.memo.setdefault(table, {})
    found = memo.get(key, _MISSING)
    if found is _MISSING:
        found = compute()
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = found
    return cast(T, found)
