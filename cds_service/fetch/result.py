"""What resolving a service's prefetch gives the pipeline: the data, and where each key came from.

Pure data, apart from the I/O that produced it (``prefetch.resolve``), so the pipeline can
take it without importing the FHIR client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

KeyStatus = Literal["prefetched", "null", "fetched", "client-failed", "failed", "unavailable"]


@dataclass(slots=True)
class PrefetchResult:
    values: dict[str, Any]  # key -> resource / Bundle / None
    status: dict[str, KeyStatus]
    truncated: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # key -> fetch error kind
    fetched: list[str] = field(default_factory=list)

    @property
    def incomplete(self) -> list[str]:
        """Optional keys the service could not get: cards say this data was not checked."""
        return [
            k for k, s in self.status.items() if s in ("client-failed", "failed", "unavailable")
        ]
