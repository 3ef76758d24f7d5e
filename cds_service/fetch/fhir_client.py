"""Reads from the EHR's FHIR server when prefetch is missing: one pooled ``httpx.AsyncClient``.

Searches follow ``Bundle.link[next]`` up to a page cap, only on the same server (a bearer token
never leaves for another origin), and stop on a link loop. Every failure is translated into a
``FHIRFetchError`` with a kind the metrics and the 412 body can name. The token is sent, never
logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from cds_service.errors import FHIRFetchError

logger = logging.getLogger(__name__)

FHIR_ACCEPT = "application/fhir+json, application/json+fhir;q=0.9, application/json;q=0.8"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A fetched resource or searchset, flattened to one Bundle-like value."""

    value: dict[str, Any] | None  # None when a read found nothing (404/410)
    pages: int
    truncated: bool  # page cap hit, loop, or a next link to another server
    seconds: float


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class FhirClient:
    def __init__(
        self, http: httpx.AsyncClient, *, max_pages: int, max_bytes: int = 10 * 1024 * 1024
    ) -> None:
        self._http = http
        self._max_pages = max_pages
        self._max_bytes = max_bytes

    async def _download(self, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
        """The response and its body, read in chunks and abandoned past ``max_bytes``: a
        misbehaving server cannot make the service hold an unbounded answer in memory."""
        async with self._http.stream("GET", url, headers=headers) as response:
            if response.status_code >= 400:
                return response, b""  # the body of an error is never read
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise FHIRFetchError("the FHIR server's answer is too large", kind="too-large")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise FHIRFetchError("the FHIR server's answer is too large", kind="too-large")
                chunks.append(chunk)
            return response, b"".join(chunks)

    async def _get(self, url: str, token: str | None) -> Any:
        headers = {"Accept": FHIR_ACCEPT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response, content = await self._download(url, headers)
        except FHIRFetchError:
            raise
        except httpx.TimeoutException as exc:
            raise FHIRFetchError("the FHIR server did not answer in time", kind="timeout") from exc
        except httpx.TransportError as exc:
            raise FHIRFetchError("the FHIR server could not be reached", kind="connect") from exc
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, ExceptionGroup) as exc:
            # httpx refuses some URLs and headers outright (InvalidURL, a port out of range
            # surfacing as an ExceptionGroup, a header it cannot encode: UnicodeEncodeError),
            # and a body it cannot decode is a DecodingError: all still a failed read.
            logger.warning("FHIR request could not be made: %s", type(exc).__name__)
            raise FHIRFetchError("the FHIR request could not be made", kind="request") from exc
        if response.status_code in (404, 410):
            return None
        if response.status_code >= 400:
            raise FHIRFetchError(
                f"the FHIR server answered {response.status_code}",
                kind=f"status-{response.status_code}",
            )
        content_type = response.headers.get("content-type", "")
        if content_type and "json" not in content_type.lower():
            raise FHIRFetchError("the FHIR server sent something that is not FHIR", kind="not-fhir")
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise FHIRFetchError("the FHIR server sent malformed JSON", kind="decode") from exc
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FHIRFetchError("the FHIR server sent something that is not FHIR", kind="not-fhir")
        if body["resourceType"] == "OperationOutcome":
            raise FHIRFetchError(
                "the FHIR server answered with an OperationOutcome", kind="outcome"
            )
        return body

    async def fetch(self, base: str, query: str, token: str | None) -> FetchResult:
        """GET ``{base}/{query}``; for a searchset, gather every page into one Bundle."""
        started = time.perf_counter()
        url = f"{base.rstrip('/')}/{query.lstrip('/')}"
        body = await self._get(url, token)
        if body is None or body.get("resourceType") != "Bundle":
            return FetchResult(body, 1, False, time.perf_counter() - started)
        return await self.follow(base, body, token, started=started)

    async def follow(
        self, base: str, bundle: dict[str, Any], token: str | None, *, started: float | None = None
    ) -> FetchResult:
        """Follow a Bundle's next links on ``base``'s origin, collecting entries, up to the cap."""
        started = time.perf_counter() if started is None else started
        entries = list(bundle.get("entry") or [])
        seen: set[str] = set()
        pages, truncated = 1, False
        page: Mapping[str, Any] = bundle
        origin = _origin(base)
        while True:
            next_url = _next_link(page)
            if next_url is None:
                break
            next_url = urljoin(base.rstrip("/") + "/", next_url)
            if next_url in seen or _origin(next_url) != origin or pages >= self._max_pages:
                truncated = True
                break
            seen.add(next_url)
            body = await self._get(next_url, token)
            if body is None or body.get("resourceType") != "Bundle":
                truncated = True
                break
            pages += 1
            entries.extend(body.get("entry") or [])
            page = body
        merged = {key: value for key, value in bundle.items() if key not in ("entry", "link")}
        merged["entry"] = entries
        return FetchResult(merged, pages, truncated, time.perf_counter() - started)


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url:
                return url
    return None
