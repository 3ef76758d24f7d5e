"""Parse a large hook request once, leaving out the prefetch entries the snapshot would skip.

A patient record is mostly data no rule reads: vitals, panels and other labs, encounters,
claims. ``orjson.loads`` builds a Python object for every one of them, which at 1,000
Observations cost more than evaluating the call. Here simdjson validates the whole body (as
fast as it reads it) and only the Bundle entries the snapshot would read become Python objects:
an entry is left out when its resource is of a type ``build_snapshot`` ignores, or an
Observation whose codings are all well-formed and name codes no measure uses (for which
``snapshot.measure_of`` finds no measure). Everything else, including malformed entries, is
kept as sent.

orjson stays the judge of what is JSON: a body simdjson refuses, or one with a byte-order mark
(which simdjson accepts and orjson does not), is parsed by orjson, so the caller gets the same
value or the same 400 either way. Small bodies go straight to orjson, which is faster when
there is little to leave out.

Repeated member names (RFC 8259 leaves their meaning open; orjson keeps the last): a body,
prefetch or Bundle object with one is converted whole, as orjson would. Inside an entry,
whether it is left out is decided on a name's first occurrence (an entry that is kept is
converted as orjson would). A resource repeating ``resourceType`` or ``code`` is malformed FHIR
no serialiser we know writes; checking every entry's names would cost what leaving it out saves.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from itertools import islice
from typing import Any

import orjson
import simdjson

# Measured (benchmarks/inprocess.py): below ~150 KB orjson's whole parse costs less than
# simdjson's parse plus the Python-level walk over the entries.
LEAN_MIN_BYTES = 128 * 1024
# Leaving entries out pays from ~57% of them unread (per entry, 730-byte Observations: orjson
# 2.5 us; simdjson's look 0.6 us plus 4.4 us to convert one kept, 0.5 us of snapshot walk saved).
LEAN_MIN_UNREAD_SHARE = 0.6
_SAMPLE = 64  # entries looked at to estimate the share
_BOM = b"\xef\xbb\xbf"
_Object = simdjson.Object  # bound once: the skip test runs for every entry
_Array = simdjson.Array


class HookBodyReader:
    """Parses hook bodies, and remembers whether leaving entries out has been paying off.

    An EHR's prefetch has the same shape call after call: one that answers our code-filtered
    queries sends data the snapshot reads, one that sends whole records sends mostly data it
    does not. Asking costs a simdjson parse and a sample (~0.5 ms at 750 KB, a fifth of
    orjson's parse), so once a sample has said "mostly read", the next large bodies go straight
    to orjson and only every ``recheck_every``-th is looked at again. The choice changes the
    cost only: either way the snapshot is the same.
    """

    def __init__(
        self,
        read_types: Container[str],
        observation_codes: Container[str],
        *,
        min_bytes: int = LEAN_MIN_BYTES,
        recheck_every: int = 16,
    ) -> None:
        self._skip = _skipper(read_types, observation_codes)
        self.min_bytes = min_bytes
        self.recheck_every = recheck_every
        self.pays = True  # until a sample says otherwise
        self._unlooked = 0  # large bodies sent to orjson since the last sample
        # Reused: its buffers (sized for the largest body so far, ~2.5x it in RSS) stay
        # allocated instead of being malloc'ed and freed per call. Safe because nothing parsed
        # escapes ``loads``: every value returned is a plain Python object (pysimdjson refuses
        # to reparse while a proxy from the previous document is alive: a RuntimeError).
        self._parser = simdjson.Parser()

    def loads(self, raw: bytes) -> Any:
        """``orjson.loads(raw)``, minus prefetch Bundle entries the snapshot would not read.

        Raises ``orjson.JSONDecodeError`` exactly when ``orjson.loads(raw)`` does.
        """
        if len(raw) < self.min_bytes or raw.startswith(_BOM):
            return orjson.loads(raw)
        if not self.pays:
            self._unlooked += 1
            if self._unlooked < self.recheck_every:
                return orjson.loads(raw)
        self._unlooked = 0
        try:
            document = self._parser.parse(raw)
        except (ValueError, RuntimeError):  # not JSON to simdjson: orjson decides, says why
            return orjson.loads(raw)
        if type(document) is not _Object:
            return _plain(document)
        names = _names(document)
        if names is None:
            return orjson.loads(raw)
        share = _unread_share(_entry_arrays(document, names), self._skip)
        self.pays = share >= LEAN_MIN_UNREAD_SHARE
        if not self.pays:
            return orjson.loads(raw)  # mostly data the snapshot reads: orjson builds it faster
        body: dict[str, Any] = {}
        for key in names:
            value = document[key]
            body[key] = _prefetch(value, self._skip) if key == "prefetch" else _plain(value)
        return body


def _names(obj: Any) -> list[str] | None:
    """An object's member names, or None when indexing by name could find the wrong member.

    Indexing a simdjson Object finds a name's first occurrence where orjson keeps the last,
    and pysimdjson passes the name as a C string (cut at a NUL). Such an object is converted
    whole by ``as_dict``, which keeps the last occurrence as orjson does. ``Object.items()``
    is no shortcut: it converts every value.
    """
    names = list(obj)
    if len(set(names)) != len(names) or any("\x00" in name for name in names):
        return None
    return names


def _bundle_names(value: Any) -> list[str] | None:
    """A Bundle's member names (None for anything else, or a Bundle read whole)."""
    names = _names(value) if type(value) is _Object else None
    if names is None or "resourceType" not in names or value["resourceType"] != "Bundle":
        return None
    return names


def _entry_arrays(document: Any, names: list[str]) -> list[Any]:
    """The entry arrays of the prefetch Bundles that would be pruned."""
    prefetch: Any = document["prefetch"] if "prefetch" in names else None
    keys = _names(prefetch) if type(prefetch) is _Object else None
    arrays = []
    for key in keys or ():
        bundle = prefetch[key]
        bundle_names = _bundle_names(bundle)
        if bundle_names is not None and "entry" in bundle_names:
            entries = bundle["entry"]
            if type(entries) is _Array:
                arrays.append(entries)
    return arrays


def _unread_share(arrays: list[Any], skip: Callable[[Any], bool]) -> float:
    """The share of entries the snapshot would skip, from a sample spread over all of them.

    A spec-abiding EHR runs our code-filtered queries, so its Observations are read; one that
    sends the whole record sends mostly what no rule reads. Leaving entries out only pays when
    most can be (simdjson converts a kept entry more slowly than orjson), so a sample decides.
    """
    total = sum(len(entries) for entries in arrays)
    if total == 0:
        return 0.0
    step = max(1, total // _SAMPLE)
    sample = [entry for entries in arrays for entry in islice(entries, 0, None, step)]
    unread = sum(1 for entry in sample if skip(entry))
    seen = len(sample)
    return unread / seen


def _prefetch(value: Any, skip: Callable[[Any], bool]) -> Any:
    names = _names(value) if type(value) is _Object else None
    if names is None:
        return _plain(value)
    return {name: _prefetch_value(value[name], skip) for name in names}


def _prefetch_value(value: Any, skip: Callable[[Any], bool]) -> Any:
    names = _bundle_names(value)
    if names is None:
        return _plain(value)
    bundle: dict[str, Any] = {}
    for key in names:
        item = value[key]
        if key == "entry" and type(item) is _Array:
            bundle[key] = [_plain(entry) for entry in item if not skip(entry)]
        else:
            bundle[key] = _plain(item)
    return bundle


def _skipper(
    read_types: Container[str], observation_codes: Container[str]
) -> Callable[[Any], bool]:
    def skip(entry: Any) -> bool:
        resource = entry.get("resource") if type(entry) is _Object else None
        if type(resource) is not _Object:
            return False
        rtype = resource.get("resourceType")
        if type(rtype) is not str:
            return False
        if rtype != "Observation":
            return rtype not in read_types
        # Every coding well-formed, no code a measure uses: snapshot.measure_of finds nothing.
        code = resource.get("code")
        coding = code.get("coding") if type(code) is _Object else None
        if type(coding) is not _Array:
            return False
        for item in coding:
            value = item.get("code") if type(item) is _Object else None
            if type(value) is not str or value in observation_codes:
                return False
        return True

    return skip


def _plain(value: Any) -> Any:
    """A simdjson value as the Python object orjson would have built."""
    if type(value) is _Object:
        return value.as_dict()
    if type(value) is _Array:
        return value.as_list()
    return value
