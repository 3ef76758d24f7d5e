"""JSON log lines, one object per line, with a redaction guard in front of every write.

Everything the service logs (its own records, uvicorn's, libraries') goes through
``JsonFormatter``. Code must never log tokens or patient data in the first place; the guard is
the second line of defence: it drops extra fields whose names say they hold such data, masks
JWTs, bearer tokens, ``access_token`` values, FHIR ``Patient/<id>`` references and pydantic's
``input_value=...`` echoes, in messages and tracebacks alike.
"""

from __future__ import annotations

import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)

# Extra fields that must never be written, whatever their value (lower-cased, no separators).
DENIED_FIELDS = frozenset(
    {
        "patientid",
        "patient",
        "subject",
        "birthdate",
        "name",
        "prefetch",
        "context",
        "body",
        "draftorders",
        "fhirauthorization",
        "accesstoken",
        "token",
        "jwt",
        "authorization",
        "headers",
        "idtoken",
        "refreshtoken",
        "password",
        "secret",
        "auditkey",
    }
)

REDACTED = "[redacted]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A JWT (header.payload.signature, base64url, header starting with '{"').
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[jwt]"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (
        re.compile(
            r"(?i)([\"']?(?:access_token|refresh_token|id_token|authorization|password|secret)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\"',\s}]+"
        ),
        r"\1" + REDACTED,
    ),
    # pydantic echoes the offending input in ValidationError texts.
    (
        re.compile(r"input_value=.*?(?=, input_type=|\]$|$)", re.MULTILINE),
        "input_value=" + REDACTED,
    ),
    (re.compile(r"\bPatient/[A-Za-z0-9.\-]{1,64}"), "Patient/" + REDACTED),
    # FHIR search parameters naming the patient, e.g. in a logged URL.
    (re.compile(r"([?&](?:patient|subject)(?::[A-Za-z]+)?=)[^&\s\"']+"), r"\1" + REDACTED),
)


def redact(text: str) -> str:
    """Mask tokens and patient references in a piece of log text."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if not _denied(str(k))}
    return redact(str(value))


def _denied(name: str) -> bool:
    return name.lower().replace("_", "").replace("-", "") in DENIED_FIELDS


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra, "exception"}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            entry[key] = REDACTED if _denied(key) else _clean(value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return orjson.dumps(entry, default=str).decode()


def log_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: JSON on stdout for us, uvicorn and libraries.

    uvicorn applies it in each worker process (``uvicorn.run(log_config=...)``).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "cds_service.observability.logs.JsonFormatter"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # uvicorn's own handlers are replaced: its records reach the root's JSON handler.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            # One access line per request comes from cds_service.access instead.
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            # httpx logs every request URL at INFO; URLs carry patient ids in search queries.
            "httpx": {"handlers": [], "propagate": True, "level": "WARNING"},
            "httpcore": {"handlers": [], "propagate": True, "level": "WARNING"},
            # Database drivers at DEBUG write statement parameters (a clinician's feedback
            # comment) and result rows, whatever hide_parameters says to SQLAlchemy.
            "aiosqlite": {"handlers": [], "propagate": True, "level": "WARNING"},
            "sqlalchemy.engine": {"handlers": [], "propagate": True, "level": "WARNING"},
        },
    }


def configure_logging(level: str) -> None:
    logging.config.dictConfig(log_config(level))
