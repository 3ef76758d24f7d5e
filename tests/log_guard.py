"""The whole test suite runs with DEBUG logging captured: no secret a test sent may be logged.

An autouse fixture (installed by conftest.py) records, for every test, what each HTTP request
made through httpx carried that must never reach a log: bearer tokens and JWTs, FHIR access
tokens, patient ids, the names and birth dates of Patient resources anywhere in the body, and
clinicians' feedback comments. Meanwhile every log record of the process (the service runs
in-process under uvicorn) is captured as production would write it at ``CDS_LOG_LEVEL=DEBUG``:
every logger at DEBUG except those ``log_config`` quiets, through the ``JsonFormatter``. After the test
the captured text must contain none of those values. A test that deliberately logs a secret
can opt out with ``@pytest.mark.logs_secrets``.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from cds_service.observability.logs import JsonFormatter, log_config

# Values too common to mean anything when they show up in a log line.
_GENERIC = frozenset(
    {"example", "patient", "unknown", "false", "true", "null", "none", "undefined", "infinity"}
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Secrets:
    """What the current test sent that must not be logged."""

    def __init__(self) -> None:
        self.exact: set[str] = set()  # matched anywhere (tokens, dates, comments)
        self.words: set[str] = set()  # matched as whole words (ids, names)
        # Logged by design (hookInstance, in the access line): not a leak even when a
        # generated request reuses the same text as a patient id.
        self.public: set[str] = set()

    def add_token(self, value: Any) -> None:
        if isinstance(value, str) and len(value) >= 8:
            self.exact.add(value)

    def add_word(self, value: Any, minimum: int) -> None:
        if (
            isinstance(value, str)
            and len(value.strip()) >= minimum
            and value.strip().lower() not in _GENERIC
            and any(c.isalnum() for c in value)
        ):
            self.words.add(value.strip())

    def add_date(self, value: Any) -> None:
        if isinstance(value, str) and _DATE.match(value):
            self.exact.add(value)

    def from_request(self, request: httpx.Request) -> None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            self.add_token(credentials.strip())
        try:
            content = request.content
        except httpx.RequestNotRead:  # a streamed upload: nothing to inspect
            return
        if not content or len(content) > 20_000_000:
            return
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            return
        self._walk(body, depth=0)

    def _walk(self, value: Any, depth: int) -> None:
        if depth > 40:
            return
        if isinstance(value, list):
            for item in value:
                self._walk(item, depth + 1)
            return
        if not isinstance(value, dict):
            return
        context = value.get("context")
        if isinstance(context, dict):
            self.add_word(context.get("patientId"), 5)
        if isinstance(value.get("hookInstance"), str):
            self.public.add(value["hookInstance"])
        override = value.get("overrideReason")
        if isinstance(override, dict):
            # A clinician's free text may name the patient.
            self.add_token(override.get("userComment"))
        authorization = value.get("fhirAuthorization")
        if isinstance(authorization, dict):
            self.add_token(authorization.get("access_token"))
        if value.get("resourceType") == "Patient":
            self.add_word(value.get("id"), 5)
            self.add_date(value.get("birthDate"))
            for name in value.get("name") or [] if isinstance(value.get("name"), list) else []:
                if isinstance(name, dict):
                    self.add_word(name.get("text"), 4)
                    self.add_word(name.get("family"), 4)
                    for given in name.get("given") or []:
                        self.add_word(given, 4)
        for child in value.values():
            self._walk(child, depth + 1)

    def found_in(self, text: str) -> list[str]:
        leaks = [s for s in self.exact - self.public if s in text]
        leaks += [
            s
            for s in self.words - self.public
            if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text)
        ]
        return sorted(leaks)


@contextmanager
def guard() -> Iterator[Secrets]:
    """Record the secrets of every httpx request and capture every log record at DEBUG;
    on exit, raise ``AssertionError`` if any recorded secret was logged."""
    secrets = Secrets()
    monkeypatch = pytest.MonkeyPatch()
    for client in (httpx.Client, httpx.AsyncClient):
        original = client.send

        def send(
            self: Any, request: httpx.Request, *args: Any, _send: Any = original, **kw: Any
        ) -> Any:
            secrets.from_request(request)
            return _send(self, request, *args, **kw)

        monkeypatch.setattr(client, "send", send)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    # Production at CDS_LOG_LEVEL=DEBUG: every logger at DEBUG except those log_config quiets
    # (whatever level an earlier test left them at).
    quiet = {name: cfg["level"] for name, cfg in log_config("DEBUG")["loggers"].items()}
    loggers = [
        root,
        *(v for v in root.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    for name in quiet:
        loggers.append(logging.getLogger(name))
    levels = [(logger, logger.level) for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(quiet.get(logger.name, logging.DEBUG))
    try:
        yield secrets
    finally:
        root.removeHandler(handler)
        for logger, level in levels:
            logger.setLevel(level)
        monkeypatch.undo()
    text = stream.getvalue()
    leaks = secrets.found_in(text)
    if leaks:
        lines = [line for line in text.splitlines() if any(s in line for s in leaks)]
        raise AssertionError(
            f"logged what the test sent as secret {leaks}:\n" + "\n".join(lines[:5])
        )


@pytest.fixture(autouse=True)
def no_secrets_in_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("logs_secrets"):
        yield
        return
    with guard():
        yield
