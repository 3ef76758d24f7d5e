"""Verify the JWT an EHR sends with every call (CDS Hooks 2.0 §Trusting CDS Clients).

Every accept/reject decision about a caller is made here, in this order: token shape,
header (``alg``, ``typ``, ``kid``, ``jku``), issuer, key, signature, ``aud``, time claims,
``tenant``, and last the replay cache, so only fully verified tokens take a cache slot.
A rejection raises ``AuthenticationFailed`` with a short reason for the log; the token
itself is never logged or put in an exception.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from cds_service.errors import AuthenticationFailed
from cds_service.security.keys import (
    ALLOWED_ALGORITHMS,
    KeySource,
    RemoteKeySource,
    StaticKeySource,
)
from cds_service.security.registry import Registry, TrustedClient
from cds_service.security.replay import MemoryReplayCache, ReplayCache

logger = logging.getLogger(__name__)

# Allowed clock skew for exp/iat/nbf (Inferno's CDS Hooks tests use 60 s).
LEEWAY_SECONDS = 60
# Real CDS Hooks tokens are well under 2 KiB; refuse to base64-decode megabytes.
MAX_TOKEN_BYTES = 8 * 1024
_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]

# PyJWT exception -> reason; the first matching class wins (subclasses before bases).
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "unknown_issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.InvalidAlgorithmError, "alg_not_allowed"),
    (jwt.DecodeError, "malformed"),
    (jwt.InvalidTokenError, "invalid_claim"),
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called, as established by a verified token."""

    iss: str
    kid: str
    jti: str
    sub: str | None = None
    tenant: str | None = None


def _short(value: object) -> str:
    # Values from an unverified token are attacker-chosen: bound them before logging.
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class Authenticator:
    """Checks bearer JWTs against the trusted-client registry.

    One instance per app, holding parsed keys, fetched key sets and the replay cache.
    """

    def __init__(
        self,
        registry: Registry,
        http_client: httpx.AsyncClient,
        *,
        replay_cache: ReplayCache | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients: dict[str, tuple[TrustedClient, KeySource]] = {}
        for iss, client in registry.clients.items():
            source: KeySource
            if client.jwks_url is not None:
                source = RemoteKeySource(
                    client.jwks_url,
                    http_client,
                    min_interval=client.jwks_min_refresh_seconds,
                    max_age=client.jwks_max_age_seconds,
                    monotonic=monotonic,
                )
            else:
                source = StaticKeySource(registry.static_keys[iss])
            self._clients[iss] = (client, source)
        self._replay = replay_cache if replay_cache is not None else MemoryReplayCache()
        self._jwt = jwt.PyJWT()

    async def authenticate(self, authorization: str | None, audience: str) -> Caller:
        """Return the verified caller or raise ``AuthenticationFailed`` (logged, token-free)."""
        try:
            return await self._verify(authorization, audience)
        except AuthenticationFailed as rejected:
            failure = rejected
        logger.warning(
            "authentication failed: reason=%s iss=%s aud=%s",
            failure.reason,
            _short(failure.iss) if failure.iss is not None else "-",
            audience,
        )
        # Raised outside the except block: no chained exception can carry token details.
        raise AuthenticationFailed(failure.reason)

    async def _verify(self, authorization: str | None, audience: str) -> Caller:
        token = _bearer_token(authorization)
        try:
            # Read (not trust) header and claims: the issuer picks the key set to verify with.
            unverified_token = self._jwt.decode_complete(token, options={"verify_signature": False})
            header, unverified = unverified_token["header"], unverified_token["payload"]
        except jwt.PyJWTError:
            raise AuthenticationFailed("malformed") from None

        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthenticationFailed("alg_not_allowed")
        # RFC 7515 §4.1.9: typ values are compared case-insensitively.
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise AuthenticationFailed("typ_not_jwt")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationFailed("missing_kid")

        iss = unverified.get("iss")
        entry = self._clients.get(iss) if isinstance(iss, str) else None
        if entry is None:
            raise AuthenticationFailed("unknown_issuer", iss)
        client, source = entry

        # Keys never come from a token's jku; a jku is merely tolerated when allowlisted.
        jku = header.get("jku")
        if jku is not None and jku not in client.accepted_jku:
            raise AuthenticationFailed("jku_not_allowed", iss)

        key = await source.get(kid)
        if key is None:
            raise AuthenticationFailed("unknown_kid", iss)
        if alg not in key.algorithms:
            raise AuthenticationFailed("alg_key_mismatch", iss)

        try:
            claims: dict[str, Any] = self._jwt.decode(
                token,
                key.key,
                algorithms=list(key.algorithms),
                audience=[audience, *client.audiences],
                issuer=client.iss,
                leeway=LEEWAY_SECONDS,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(_reason(exc), iss) from None

        exp, iat = claims["exp"], claims["iat"]
        # RFC 7519 §2 NumericDate is a JSON number; PyJWT would also accept numeric strings.
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat)):
            raise AuthenticationFailed("invalid_claim", iss)
        if exp - iat > client.max_token_lifetime:
            raise AuthenticationFailed("lifetime_too_long", iss)
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthenticationFailed("invalid_claim", iss)
        tenant = claims.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise AuthenticationFailed("invalid_claim", iss)
        if client.tenants and tenant not in client.tenants:
            raise AuthenticationFailed("tenant_not_allowed", iss)

        if not await self._replay.first_use(client.iss, jti, float(exp) + LEEWAY_SECONDS):
            raise AuthenticationFailed("replayed", iss)
        sub = claims.get("sub")
        return Caller(
            iss=client.iss,
            kid=kid,
            jti=jti,
            sub=sub if isinstance(sub, str) else None,
            tenant=tenant,
        )


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationFailed("missing_token")
    # RFC 7235 §2.1: the auth scheme is case-insensitive.
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthenticationFailed("not_bearer")
    token = token.strip()
    if not token:
        raise AuthenticationFailed("missing_token")
    if len(token) > MAX_TOKEN_BYTES:
        raise AuthenticationFailed("token_too_large")
    return token


def _reason(exc: Exception) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "invalid_token"
