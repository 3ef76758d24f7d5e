"""What ``/app/launch`` hands to ``/app/callback``: a sealed, short-lived cookie.

Several workers may serve the two requests, so the launch state (OAuth ``state``, the PKCE
verifier, ``iss``, the EHR's endpoints and our ``redirect_uri``) is not kept in one process's
memory: it travels in a cookie encrypted and authenticated with AES-256-GCM under a key derived
(HKDF-SHA256) from ``CDS_SMART_STATE_KEY``. The browser cannot read or alter it; it expires
after ``STATE_TTL_SECONDS`` (the expiry is inside the ciphertext, not only in ``Max-Age``).

The cookie's name is derived from the ``state`` value, so two launches in one browser (two
tabs, two cards) do not overwrite each other. A ``state`` comes back once: the callback deletes
the cookie, and ``ReplayCache`` refuses a second callback with the same ``state`` in this
process; in another worker the EHR's single-use authorization code is the backstop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from dataclasses import asdict, dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

logger = logging.getLogger(__name__)

STATE_TTL_SECONDS = 600
COOKIE_PREFIX = "cds-smart-launch-"
# Bound to the purpose and format: a value sealed for anything else does not open here.
_AAD = b"cds-service smart launch state v1"
_NONCE_BYTES = 12
# A sealed state is a few hundred bytes; anything far larger is not ours.
_MAX_SEALED = 4096


@dataclass(frozen=True, slots=True)
class LaunchState:
    state: str
    verifier: str  # PKCE code_verifier (RFC 7636)
    iss: str
    token_endpoint: str
    redirect_uri: str
    expires_at: float  # epoch seconds


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_verifier() -> str:
    # 64 characters of [A-Za-z0-9-_]: within RFC 7636's 43-128 unreserved characters.
    return secrets.token_urlsafe(48)


def pkce_challenge(verifier: str) -> str:
    """S256: BASE64URL(SHA256(ASCII(code_verifier))), unpadded (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def cookie_name(state: str) -> str:
    return COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:16]


class StateSealer:
    """Seals and opens ``LaunchState`` values; one per app."""

    def __init__(self, key: SecretStr | None) -> None:
        if key is None:
            material = os.urandom(32)
            logger.warning(
                "CDS_SMART_STATE_KEY is not set: the SMART app uses a random key of this "
                "process, so a launch works only when its callback reaches the same worker; "
                "set CDS_SMART_STATE_KEY (>= 32 characters) for several workers or hosts"
            )
        else:
            material = key.get_secret_value().encode()
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"cds-service smart state"
        ).derive(material)
        self._aead = AESGCM(derived)
        self.ephemeral = key is None

    def seal(self, launch: LaunchState) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, orjson.dumps(asdict(launch)), _AAD)
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def open(self, value: str, *, now: float) -> LaunchState | None:
        """The state in ``value``, or None when it was altered, sealed elsewhere or expired."""
        if not value or len(value) > _MAX_SEALED:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
            launch = LaunchState(**orjson.loads(plain))
        except (binascii.Error, ValueError, InvalidTag, TypeError, orjson.JSONDecodeError):
            return None
        if launch.expires_at < now:
            return None
        return launch
