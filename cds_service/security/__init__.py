"""Authentication of the calling EHR: JWT verification, trusted-client registry, replay cache.

``authenticator`` makes the decisions, ``registry`` loads who is trusted, ``keys`` parses and
fetches public keys, ``replay`` remembers used ``jti`` values.
"""

from cds_service.security.authenticator import Authenticator, Caller
from cds_service.security.registry import (
    Registry,
    load_trusted_clients,
    startup_registry,
)
from cds_service.security.replay import MemoryReplayCache, ReplayCache

__all__ = [
    "Authenticator",
    "Caller",
    "MemoryReplayCache",
    "Registry",
    "ReplayCache",
    "load_trusted_clients",
    "startup_registry",
]
