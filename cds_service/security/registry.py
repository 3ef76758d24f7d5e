"""The trusted-client registry: which EHRs may call, and where their public keys come from.

Loaded once at start-up from the YAML file named by ``CDS_TRUSTED_CLIENTS``; every defect
stops the service with a message naming the file and the field, so a typo never turns into
a service that silently rejects (or accepts) the wrong callers. Relative ``jwks_file`` paths
are resolved against the registry file's folder, so the working directory does not matter.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cds_service.errors import JWKSError, TrustedClientsError
from cds_service.security.keys import VerificationKey, parse_jwks
from cds_service.settings import Settings

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(value: str, *, what: str) -> str:
    # CDS Hooks §Security: "All data exchanged ... MUST be transmitted over TLS";
    # plain http is allowed only on loopback, for local development and tests.
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute https URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"{what} must use https (http is accepted only on loopback)")
    return value


class TrustedClient(BaseModel):
    """One EHR (issuer) allowed to call the service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iss: str = Field(min_length=1)
    # Exactly one key source.
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = None
    # Extra `aud` values accepted besides the exact URL called (some EHRs set aud by hand).
    audiences: tuple[str, ...] = ()
    # When non-empty, the token's `tenant` claim must be one of these.
    tenants: tuple[str, ...] = ()
    # `jku` header values accepted in tokens; keys are still taken only from the key source
    # above (jwks_url is implicitly allowed). A token with any other jku is refused.
    allowed_jku: tuple[str, ...] = ()
    # Longest accepted exp - iat. Bounds how long a jti must be remembered (replay cache).
    max_token_lifetime: int = Field(default=3600, ge=1, le=86400)
    # Refresh policy for jwks_url.
    jwks_min_refresh_seconds: float = Field(default=60.0, ge=0)
    jwks_max_age_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("iss")
    @classmethod
    def _iss_exact(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("iss must not have leading or trailing spaces")
        return value

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url_https(cls, value: str | None) -> str | None:
        return _check_url(value, what="jwks_url") if value is not None else None

    @field_validator("allowed_jku")
    @classmethod
    def _jku_https(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_url(url, what="allowed_jku entry") for url in value)

    @field_validator("audiences", "tenants")
    @classmethod
    def _non_empty_strings(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item for item in value):
            raise ValueError("entries must be non-empty strings")
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> TrustedClient:
        sources = [self.jwks_file, self.jwks_url, self.jwks]
        if sum(source is not None for source in sources) != 1:
            raise ValueError("give exactly one of jwks_file, jwks_url or jwks")
        return self

    @property
    def accepted_jku(self) -> frozenset[str]:
        return frozenset((*self.allowed_jku, *((self.jwks_url,) if self.jwks_url else ())))


class _RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clients: list[TrustedClient] = Field(min_length=1)

    @field_validator("clients")
    @classmethod
    def _unique_issuers(cls, clients: list[TrustedClient]) -> list[TrustedClient]:
        seen: set[str] = set()
        for client in clients:
            if client.iss in seen:
                raise ValueError(f"iss {client.iss!r} is listed twice")
            seen.add(client.iss)
        return clients


class Registry:
    """The validated registry: clients by ``iss`` and the parsed keys of static key sets."""

    def __init__(
        self, clients: dict[str, TrustedClient], static_keys: dict[str, dict[str, VerificationKey]]
    ) -> None:
        self.clients = clients
        self.static_keys = static_keys


def _field_name(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(top level)"


def load_trusted_clients(path: Path) -> Registry:
    """Read and validate the registry file; raise ``TrustedClientsError`` naming file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrustedClientsError(
            f"{path}: cannot read the trusted-clients file ({exc.strerror}); "
            "set CDS_TRUSTED_CLIENTS to a registry file, or CDS_AUTH=off for local experiments"
        ) from exc
    except yaml.YAMLError as exc:
        raise TrustedClientsError(f"{path}: not valid YAML: {exc}") from exc
    try:
        registry = _RegistryFile.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise TrustedClientsError(
            f"{path}: {_field_name(tuple(error['loc']))}: {error['msg']}"
        ) from exc

    static_keys: dict[str, dict[str, VerificationKey]] = {}
    for index, client in enumerate(registry.clients):
        if client.jwks_url is not None:
            continue
        if client.jwks_file is not None:
            field = f"clients[{index}].jwks_file"
            key_file = client.jwks_file
            if not key_file.is_absolute():
                key_file = path.parent / key_file
            try:
                document: object = json.loads(key_file.read_text(encoding="utf-8"))
            except OSError as exc:
                raise TrustedClientsError(
                    f"{path}: {field}: cannot read {key_file} ({exc.strerror})"
                ) from exc
            except ValueError as exc:
                raise TrustedClientsError(f"{path}: {field}: {key_file} is not JSON") from exc
        else:
            field = f"clients[{index}].jwks"
            document = client.jwks
        try:
            static_keys[client.iss] = parse_jwks(document)
        except JWKSError as exc:
            raise TrustedClientsError(f"{path}: {field}: {exc}") from exc
    return Registry({client.iss: client for client in registry.clients}, static_keys)


def startup_registry(settings: Settings) -> Registry | None:
    """The validated registry when ``CDS_AUTH=jwt``; ``None``, with a loud warning, when off.

    Called by ``create_app`` so a bad file stops the service before it listens.
    """
    if settings.auth == "off":
        logger.warning(
            "CDS_AUTH=off: AUTHENTICATION IS DISABLED. Any caller can use every endpoint. "
            "For local experiments only; never expose this service beyond loopback."
        )
        return None
    registry = load_trusted_clients(settings.trusted_clients)
    logger.info(
        "authentication: CDS_AUTH=jwt, %d trusted client(s) from %s",
        len(registry.clients),
        settings.trusted_clients,
    )
    if settings.workers > 1:
        logger.info(
            "authentication: the jti replay cache is per worker process (%d workers); "
            "see docs/authentication.md",
            settings.workers,
        )
    return registry
