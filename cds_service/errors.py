"""The service's error tree.

Every error the service raises on purpose derives from ``CDSError`` and carries
the HTTP status it maps to and a short, fixed message safe to show a caller.
Foreign exceptions are translated where they enter (``raise ... from exc``);
only ``app.py`` turns an error into a response, as a FHIR OperationOutcome
without a traceback.
"""

from __future__ import annotations


class CDSError(Exception):
    """Base of every deliberate error; ``status_code`` is the HTTP status hint."""

    status_code: int = 500
    # OperationOutcome.issue.code (http://hl7.org/fhir/issue-type)
    issue_code: str = "exception"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(CDSError):
    """The request body is not a valid CDS Hooks request for this service."""

    status_code = 400
    issue_code = "invalid"


class UnknownService(CDSError):
    status_code = 404
    issue_code = "not-found"


class PayloadTooLarge(CDSError):
    status_code = 413
    issue_code = "too-long"


class UnsupportedMediaType(CDSError):
    status_code = 415
    issue_code = "not-supported"


class PreconditionFailed(CDSError):
    """Data the service needs is neither in prefetch nor obtainable (CDS Hooks: 412)."""

    status_code = 412
    issue_code = "incomplete"


class AuthenticationFailed(CDSError):
    """The caller could not be authenticated. The reason is logged, never returned."""

    status_code = 401
    issue_code = "login"

    def __init__(self, reason: str) -> None:
        super().__init__("authentication required")
        self.reason = reason


class ServiceUnavailable(CDSError):
    """A dependency (for example the database) is down; the caller may retry."""

    status_code = 503
    issue_code = "transient"


class FHIRFetchError(CDSError):
    """A fallback read from the EHR's FHIR server failed; becomes a 412 upstream."""

    status_code = 412
    issue_code = "incomplete"

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        # timeout | connect | request | status-NNN | decode | not-fhir | outcome | too-large
        self.kind = kind


class KnowledgeError(Exception):
    """The knowledge base or a service definition is invalid; names file and field."""
