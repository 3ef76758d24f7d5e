"""The patient id as it may appear in the audit trail: a keyed hash, or nothing.

``HMAC-SHA256(CDS_AUDIT_KEY, patient id)`` lets someone who holds the key find the
invocations of one patient, and nobody else: patient ids (MRNs, FHIR ids) are short and
guessable, so an unkeyed hash, or a key kept beside the hashes, could be reversed by trying
them all. That is why the store never generates and persists a key of its own.

Without a key the store records no patient reference at all (the column stays empty) and
says so once at start. With PostgreSQL, the configuration for several workers and hosts, a
key is required: the service refuses to start without one (``require_key``).
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from cds_service.errors import AuditKeyError

MIN_KEY_LENGTH = 32


class Pseudonymizer:
    """Turns patient ids into keyed hashes; the key never leaves this object."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: SecretStr | None, *, require_key: bool = False) -> None:
        if key is None or not key.get_secret_value():
            if require_key:
                raise AuditKeyError(
                    "CDS_AUDIT_KEY is required with a PostgreSQL database; generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                )
            self._key: bytes | None = None
            self.key_id: str | None = None
            return
        raw = key.get_secret_value()
        if len(raw) < MIN_KEY_LENGTH:
            raise AuditKeyError(f"CDS_AUDIT_KEY must be at least {MIN_KEY_LENGTH} characters long")
        self._key = raw.encode()
        # A fingerprint that names the key in each row without revealing it.
        self.key_id = self._mac("cds-service audit key id")[:16]

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def __call__(self, patient_id: str) -> str | None:
        """The patient's pseudonym, or None when no key is configured."""
        if self._key is None:
            return None
        return self._mac(patient_id)

    def _mac(self, value: str) -> str:
        assert self._key is not None
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"Pseudonymizer(key_id={self.key_id!r})"
