"""The service's error tree: every error raised on purpose, in one place.

Every error the service raises on purpose derives from ``CDSError`` and carries the HTTP status
it maps to and a short, fixed message safe to show a caller. Foreign exceptions are translated
where they enter (``raise ... from exc``); only ``http/errors.py`` turns an error into a
response, as a FHIR OperationOutcome without a traceback.

    CDSError
    ├── BadRequest (400)
    │   └── InputError             a file given to `cds-service evaluate` cannot be evaluated
    ├── UnknownService (404), PayloadTooLarge (413), UnsupportedMediaType (415)
    ├── PreconditionFailed (412)
    │   └── FHIRFetchError         a fallback read from the EHR's FHIR server failed
    ├── AuthenticationFailed (401) the reason is logged, never returned
    ├── ServiceUnavailable (503)   a dependency is down; the caller may retry
    ├── JWKSError                  a key set or key cannot be used
    ├── AppRefused                 the SMART companion app cannot show its page
    └── ConfigurationError         a setting or file is wrong: the service does not start
        ├── KnowledgeError         mappings/ or hooks/
        ├── TrustedClientsError    the trusted-clients file (CDS_TRUSTED_CLIENTS)
        ├── AuditKeyError          CDS_AUDIT_KEY
        └── DatabaseURLError       CDS_DATABASE_URL
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

    def __init__(self, reason: str, iss: str | None = None) -> None:
        super().__init__("authentication required")
        self.reason = reason
        # The token's issuer when it could be read (attacker-chosen: bounded before logging).
        self.iss = iss


class ServiceUnavailable(CDSError):
    """A dependency (for example the database) is down; the caller may retry."""

    status_code = 503
    issue_code = "transient"


class FHIRFetchError(PreconditionFailed):
    """A fallback read from the EHR's FHIR server failed; becomes a 412 upstream."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        # timeout | connect | request | status-NNN | decode | not-fhir | outcome | too-large
        self.kind = kind


class InputError(BadRequest):
    """A document given to ``cds-service evaluate`` cannot be evaluated; says why in one line."""


class JWKSError(CDSError):
    """A key set or one of its keys cannot be used; the message names the key."""


class AppRefused(CDSError):
    """The SMART companion app cannot show its page; ``title`` and ``message`` are shown to the
    clinician as they are, as a short HTML page (web/smart/routes.py), never a stack trace."""

    def __init__(self, status: int, title: str, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.status_code = status
        self.title = title
        # A short, fixed token for the log and metrics ("unknown-iss", "state-mismatch"...).
        self.reason = reason

    @property
    def status(self) -> int:
        return self.status_code


class ConfigurationError(CDSError):
    """A setting or a file the service needs is wrong; the message says which and how.

    Raised at start-up (or by a command), never while answering a call.
    """


class KnowledgeError(ConfigurationError):
    """The knowledge base or a service definition is invalid; names file and field."""


class TrustedClientsError(ConfigurationError):
    """The trusted-clients file is missing or invalid; the message names file and field."""


class AuditKeyError(ConfigurationError):
    """CDS_AUDIT_KEY is missing where it is required, or too weak."""


class DatabaseURLError(ConfigurationError):
    """CDS_DATABASE_URL is not a database URL this service can use."""
