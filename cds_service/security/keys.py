"""Public signing keys: JWK parsing, and key sets fetched from an EHR's ``jwks_url``.

Every decision about *which* key may verify *which* algorithm is made here: a key yields
the algorithms it may verify (from its ``alg``, else from its type and curve), only
asymmetric algorithms exist in that vocabulary, and keys are parsed once, when loaded,
so that verification on the hot path is a dictionary lookup and one signature check.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from cds_service.errors import JWKSError

logger = logging.getLogger(__name__)

# CDS Hooks 2.0 §Trusting CDS Clients: "alg ... SHALL NOT be none or a symmetric algorithm".
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
ALLOWED_ALGORITHMS = frozenset((*EC_ALGORITHMS.values(), *RSA_ALGORITHMS))
MIN_RSA_BITS = 2048

# A JWKS document larger than this is not a key set; stop reading instead of buffering it.
MAX_JWKS_BYTES = 256 * 1024
JWKS_TIMEOUT = httpx.Timeout(5.0)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One parsed public key and the algorithms it may verify."""

    kid: str
    algorithms: tuple[str, ...]
    key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def parse_jwk(jwk: object) -> VerificationKey | None:
    """Parse one JWK; ``None`` for keys that are not for signatures (``use``/``key_ops``).

    Raises ``JWKSError`` for keys that claim to be signing keys but cannot be trusted:
    private key material, symmetric or unknown types, weak RSA, an ``alg`` that does not
    fit the key.
    """
    if not isinstance(jwk, dict):
        raise JWKSError("is not a JSON object")
    # RFC 7517 §4.2/§4.3: keys published for encryption must not verify signatures.
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JWKSError("has no kid (CDS Hooks requires kid to pick the key)")
    if "d" in jwk:
        raise JWKSError(f"kid {kid!r} contains private key material; publish the public key only")
    kty = jwk.get("kty")
    try:
        if kty == "EC":
            algorithms: tuple[str, ...] = (EC_ALGORITHMS.get(str(jwk.get("crv")), ""),)
            if not algorithms[0]:
                raise JWKSError(f"kid {kid!r}: unsupported curve {jwk.get('crv')!r}")
            key: Any = ECAlgorithm.from_jwk(jwk)
        elif kty == "RSA":
            algorithms = RSA_ALGORITHMS
            key = RSAAlgorithm.from_jwk(jwk)
            if key.key_size < MIN_RSA_BITS:
                raise JWKSError(f"kid {kid!r}: RSA key of {key.key_size} bits (minimum 2048)")
        else:
            raise JWKSError(f"kid {kid!r}: key type {kty!r} is not EC or RSA")
    except InvalidKeyError as exc:
        raise JWKSError(f"kid {kid!r}: not a valid {kty} public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise JWKSError(f"kid {kid!r}: not a public key")
    alg = jwk.get("alg")
    if alg is not None:
        if alg not in algorithms:
            raise JWKSError(f"kid {kid!r}: alg {alg!r} is not allowed for a {kty} key")
        algorithms = (alg,)
    return VerificationKey(kid=kid, algorithms=algorithms, key=key)


def parse_jwks(document: object) -> dict[str, VerificationKey]:
    """Parse a JWKS strictly (for key sets in configuration): any bad key is an error."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JWKSError('is not a JWKS (expected {"keys": [...]})')
    keys: dict[str, VerificationKey] = {}
    for index, jwk in enumerate(document["keys"]):
        try:
            parsed = parse_jwk(jwk)
        except JWKSError as exc:
            raise JWKSError(f"keys[{index}] {exc}") from exc
        if parsed is None:
            continue
        if parsed.kid in keys:
            raise JWKSError(f"keys[{index}]: kid {parsed.kid!r} appears twice")
        keys[parsed.kid] = parsed
    if not keys:
        raise JWKSError('has no signing keys (EC or RSA with use "sig")')
    return keys


def parse_jwks_lenient(document: object, source: str) -> dict[str, VerificationKey]:
    """Parse a fetched JWKS: skip (and log) unusable keys so one bad key cannot lock out the rest.

    Keys whose kid appears twice are dropped: which of them signed a token is ambiguous.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JWKSError("is not a JWKS")
    keys: dict[str, VerificationKey] = {}
    duplicated: set[str] = set()
    for index, jwk in enumerate(document["keys"]):
        try:
            parsed = parse_jwk(jwk)
        except JWKSError as exc:
            logger.warning("JWKS %s: skipping keys[%d]: %s", source, index, exc)
            continue
        if parsed is None:
            continue
        if parsed.kid in keys:
            duplicated.add(parsed.kid)
        keys[parsed.kid] = parsed
    for kid in duplicated:
        logger.warning("JWKS %s: dropping kid %r, which appears more than once", source, kid)
        del keys[kid]
    return keys


class KeySource:
    """Where an issuer's keys come from; ``get`` returns the key for ``kid`` or ``None``."""

    async def get(self, kid: str) -> VerificationKey | None:
        raise NotImplementedError


class StaticKeySource(KeySource):
    """Keys from a file or inline in the registry, parsed at start-up."""

    def __init__(self, keys: Mapping[str, VerificationKey]) -> None:
        self._keys = dict(keys)

    async def get(self, kid: str) -> VerificationKey | None:
        return self._keys.get(kid)


class RemoteKeySource(KeySource):
    """A key set fetched from a configured ``jwks_url``, cached and refreshed with restraint.

    Refreshes happen when a token names an unknown ``kid`` (key rotation) or when the cache is
    older than ``max_age`` (key removal), but never more often than once per ``min_interval``
    seconds, whether the fetch succeeded or not: a stream of tokens with invented kids costs
    the EHR's JWKS server at most one request per interval. Concurrent misses share one fetch.
    A failed fetch keeps the keys already known.
    """

    def __init__(
        self,
        url: str,
        http_client: httpx.AsyncClient,
        *,
        min_interval: float,
        max_age: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._http = http_client
        self._min_interval = min_interval
        self._max_age = max_age
        self._monotonic = monotonic
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._attempts = 0
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> VerificationKey | None:
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        await self._refresh()
        # A failed refresh keeps the old set; a successful one drops keys the issuer removed.
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._monotonic() - self._fetched_at > self._max_age

    def _may_attempt(self) -> bool:
        return (
            self._attempted_at is None
            or self._monotonic() - self._attempted_at >= self._min_interval
        )

    async def _refresh(self) -> None:
        attempts_seen = self._attempts
        # Only misses and stale caches get here; they queue behind an in-flight fetch.
        async with self._lock:
            # Another request fetched while this one waited: use its result.
            if self._attempts != attempts_seen or not self._may_attempt():
                return
            self._attempts += 1
            self._attempted_at = self._monotonic()
            try:
                document = await self._fetch()
                keys = parse_jwks_lenient(document, self.url)
            except JWKSError as exc:
                logger.warning("JWKS %s could not be used: %s", self.url, exc)
                return
            self._keys = keys
            self._fetched_at = self._monotonic()
            logger.info("JWKS %s loaded: %d signing keys", self.url, len(keys))

    async def _fetch(self) -> object:
        try:
            async with self._http.stream(
                "GET",
                self.url,
                headers={"Accept": "application/json"},
                timeout=JWKS_TIMEOUT,
                follow_redirects=False,
            ) as response:
                if response.status_code != 200:
                    raise JWKSError(f"HTTP status {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JWKSError(f"response larger than {MAX_JWKS_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise JWKSError(f"fetch failed ({type(exc).__name__})") from exc
        try:
            return json.loads(body)
        except ValueError as exc:
            raise JWKSError("response is not JSON") from exc
