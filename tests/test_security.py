"""Unit tests of the authenticator, the trusted-client registry, key sets and replay cache.

The HTTP-level behaviour (401 responses, headers) is tested in test_security_api.py; here each
rejection is checked for its *reason*, so a test cannot pass because of a different failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from cds_service.errors import AuthenticationFailed, TrustedClientsError
from cds_service.security import (
    Authenticator,
    MemoryReplayCache,
    load_trusted_clients,
)
from cds_service.settings import Settings
from tests.security_support import (
    Issuer,
    JWKSServer,
    SigningKey,
    tamper,
    unsigned_token,
    write_registry,
)

AUD = "https://cds.example.org/cds-services/nt-patient-view"
ISS = "https://ehr.example.org"

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey.ec384()


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.rsa()


@pytest.fixture
def issuer(ec_key: SigningKey) -> Issuer:
    return Issuer(ISS, ec_key)


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient() as client:
        yield client


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def registry_for(tmp_path: Path, *clients: dict[str, Any]) -> Any:
    return load_trusted_clients(write_registry(tmp_path, list(clients)))


def static_client(issuer: Issuer, *keys: SigningKey, **extra: Any) -> dict[str, Any]:
    return {"iss": issuer.iss, "jwks": issuer.jwks(*keys), **extra}


async def reason_for(auth: Authenticator, authorization: str | None, aud: str = AUD) -> str:
    with pytest.raises(AuthenticationFailed) as info:
        await auth.authenticate(authorization, aud)
    return info.value.reason


# --------------------------------------------------------------------------------------------
# Registry


def test_shipped_registry_trusts_the_sandbox_key_only() -> None:
    registry = load_trusted_clients(Settings().trusted_clients)
    assert list(registry.clients) == ["https://sandbox.cds-hooks.org"]
    keys = registry.static_keys["https://sandbox.cds-hooks.org"]
    assert list(keys) == ["44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"]
    assert keys["44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"].algorithms == ("ES384",)
    client = registry.clients["https://sandbox.cds-hooks.org"]
    assert "https://sandbox.cds-hooks.org/.well-known/jwks.json" in client.accepted_jku


def test_shipped_jwks_matches_the_shared_copy() -> None:
    shipped = Settings().trusted_clients.parent / "cds-hooks-sandbox.jwks.json"
    shared = Path(__file__).parents[1].parent / "shared" / "keys" / "cds-hooks-sandbox.jwks.json"
    assert json.loads(shipped.read_text()) == json.loads(shared.read_text())


def test_relative_jwks_file_is_read_from_the_registry_folder(
    tmp_path: Path, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keys.json").write_text(json.dumps(issuer.jwks()))
    monkeypatch.chdir("/")
    registry = registry_for(tmp_path, {"iss": ISS, "jwks_file": "keys.json"})
    assert list(registry.static_keys[ISS]) == [issuer.key.kid]


@pytest.mark.parametrize(
    ("clients", "field", "message"),
    [
        ([], "clients", "at least 1"),
        ([{"iss": ISS}], "clients[0]", "exactly one of jwks_file, jwks_url or jwks"),
        (
            [{"iss": ISS, "jwks_url": "https://a.example/j", "jwks_file": "k.json"}],
            "clients[0]",
            "exactly one",
        ),
        ([{"iss": ISS, "jwks_url": "http://ehr.example.org/jwks"}], "clients[0].jwks_url", "https"),
        ([{"iss": ISS, "jwks_url": "/relative"}], "clients[0].jwks_url", "absolute"),
        ([{"iss": ISS, "jwks_url": "https://a.example/j", "colour": 1}], "clients[0].colour", ""),
        ([{"iss": "", "jwks_url": "https://a.example/j"}], "clients[0].iss", ""),
        (
            [{"iss": ISS, "jwks_url": "https://a.example/j"}] * 2,
            "clients",
            "listed twice",
        ),
        ([{"iss": ISS, "jwks_file": "missing.json"}], "clients[0].jwks_file", "cannot read"),
        ([{"iss": ISS, "jwks": {"keys": []}}], "clients[0].jwks", "no signing keys"),
        ([{"iss": ISS, "jwks": {"kty": "EC"}}], "clients[0].jwks", "not a JWKS"),
        (
            [{"iss": ISS, "jwks": {"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}}],
            "clients[0].jwks",
            "keys[0] kid 'h': key type 'oct'",
        ),
        (
            [{"iss": ISS, "jwks_url": "https://a.example/j", "tenants": [""]}],
            "clients[0].tenants",
            "non-empty",
        ),
    ],
)
def test_invalid_registry_names_file_and_field(
    tmp_path: Path, clients: list[dict[str, Any]], field: str, message: str
) -> None:
    path = write_registry(tmp_path, clients)
    with pytest.raises(TrustedClientsError) as info:
        load_trusted_clients(path)
    assert str(info.value).startswith(f"{path}: {field}: ")
    assert message in str(info.value)


def test_missing_registry_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(TrustedClientsError, match="CDS_TRUSTED_CLIENTS"):
        load_trusted_clients(tmp_path / "nope.yaml")


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    path.write_text("clients: [\n")
    with pytest.raises(TrustedClientsError, match="not valid YAML"):
        load_trusted_clients(path)


def test_private_key_in_registry_is_refused(tmp_path: Path, ec_key: SigningKey) -> None:
    private_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.private))
    private_jwk["kid"] = "leaked"
    with pytest.raises(TrustedClientsError, match="private key material"):
        registry_for(tmp_path, {"iss": ISS, "jwks": {"keys": [private_jwk]}})


def test_weak_rsa_key_is_refused(tmp_path: Path) -> None:
    weak = SigningKey.rsa(bits=1024)
    with pytest.raises(TrustedClientsError, match="1024 bits"):
        registry_for(tmp_path, {"iss": ISS, "jwks": {"keys": [weak.jwk()]}})


def test_alg_that_does_not_fit_the_key_is_refused(tmp_path: Path, ec_key: SigningKey) -> None:
    jwk = {**ec_key.jwk(), "alg": "HS256"}
    with pytest.raises(TrustedClientsError, match="alg 'HS256' is not allowed"):
        registry_for(tmp_path, {"iss": ISS, "jwks": {"keys": [jwk]}})


def test_encryption_keys_are_ignored(
    tmp_path: Path, ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    jwks = {"keys": [ec_key.jwk(), rsa_key.jwk(use="enc")]}
    registry = registry_for(tmp_path, {"iss": ISS, "jwks": jwks})
    assert list(registry.static_keys[ISS]) == [ec_key.kid]


# --------------------------------------------------------------------------------------------
# Accepted tokens


async def test_valid_ec_p384_token_is_accepted(tmp_path: Path, issuer: Issuer, http: Any) -> None:
    auth = Authenticator(registry_for(tmp_path, static_client(issuer)), http)
    token = issuer.token(AUD, sub="client-1")
    caller = await auth.authenticate(f"Bearer {token}", AUD)
    assert (caller.iss, caller.kid, caller.sub, caller.tenant) == (
        ISS,
        issuer.key.kid,
        "client-1",
        None,
    )


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
async def test_rsa_key_without_alg_verifies_every_rsa_algorithm(
    tmp_path: Path, rsa_key: SigningKey, http: Any, alg: str
) -> None:
    issuer = Issuer(ISS, SigningKey(rsa_key.kid, alg, rsa_key.private))
    registry = registry_for(tmp_path, {"iss": ISS, "jwks": {"keys": [rsa_key.jwk(with_alg=False)]}})
    caller = await Authenticator(registry, http).authenticate(f"Bearer {issuer.token(AUD)}", AUD)
    assert caller.kid == rsa_key.kid


async def test_aud_array_extra_audience_and_scheme_case(
    tmp_path: Path, issuer: Issuer, http: Any
) -> None:
    extra = "urn:ehr:configured-by-hand"
    auth = Authenticator(registry_for(tmp_path, static_client(issuer, audiences=[extra])), http)
    await auth.authenticate(f"Bearer {issuer.token(['https://other.example', AUD])}", AUD)
    await auth.authenticate(f"bearer {issuer.token(extra)}", AUD)
    assert await reason_for(auth, f"Bearer {issuer.token('https://other.example')}") == (
        "wrong_audience"
    )


async def test_tenant_allowlist(tmp_path: Path, issuer: Issuer, http: Any) -> None:
    auth = Authenticator(registry_for(tmp_path, static_client(issuer, tenants=["org-1"])), http)
    caller = await auth.authenticate(f"Bearer {issuer.token(AUD, tenant='org-1')}", AUD)
    assert caller.tenant == "org-1"
    assert await reason_for(auth, f"Bearer {issuer.token(AUD, tenant='org-2')}") == (
        "tenant_not_allowed"
    )
    assert await reason_for(auth, f"Bearer {issuer.token(AUD)}") == "tenant_not_allowed"


async def test_tenant_is_free_when_client_lists_none(
    tmp_path: Path, issuer: Issuer, http: Any
) -> None:
    auth = Authenticator(registry_for(tmp_path, static_client(issuer)), http)
    caller = await auth.authenticate(f"Bearer {issuer.token(AUD, tenant='any-org')}", AUD)
    assert caller.tenant == "any-org"


async def test_allowlisted_jku_is_accepted_and_others_refused(
    tmp_path: Path, issuer: Issuer, http: Any
) -> None:
    allowed = "https://ehr.example.org/.well-known/jwks.json"
    auth = Authenticator(registry_for(tmp_path, static_client(issuer, allowed_jku=[allowed])), http)
    await auth.authenticate(f"Bearer {issuer.token(AUD, headers={'jku': allowed})}", AUD)
    token = issuer.token(AUD, headers={"jku": "https://attacker.example/jwks.json"})
    assert await reason_for(auth, f"Bearer {token}") == "jku_not_allowed"


# --------------------------------------------------------------------------------------------
# Rejected tokens: each case asserts its own reason.


def _now() -> int:
    return int(time.time())


# name -> (authorization built from (issuer, other key), expected reason)
Builder = Callable[[Issuer, SigningKey], str | None]
REJECTIONS: dict[str, tuple[Builder, str]] = {
    "no header": (lambda i, o: None, "missing_token"),
    "empty bearer": (lambda i, o: "Bearer ", "missing_token"),
    "basic scheme": (lambda i, o: "Basic dXNlcjpwYXNz", "not_bearer"),
    "not a jwt": (lambda i, o: "Bearer not-a-jwt", "malformed"),
    "garbage segments": (lambda i, o: "Bearer a.b.c", "malformed"),
    "huge": (lambda i, o: "Bearer " + "a" * 9000, "token_too_large"),
    "alg none": (
        lambda i, o: (
            "Bearer "
            + unsigned_token({"alg": "none", "typ": "JWT", "kid": i.key.kid}, i.claims(AUD))
        ),
        "alg_not_allowed",
    ),
    "typ missing": (lambda i, o: f"Bearer {i.token(AUD, headers={'typ': None})}", "typ_not_jwt"),
    "typ wrong": (lambda i, o: f"Bearer {i.token(AUD, headers={'typ': 'at+jwt'})}", "typ_not_jwt"),
    "kid missing": (lambda i, o: f"Bearer {i.token(AUD, headers={'kid': None})}", "missing_kid"),
    "unknown kid": (lambda i, o: f"Bearer {i.token(AUD, key=o)}", "unknown_kid"),
    "another key under our kid": (
        lambda i, o: f"Bearer {i.token(AUD, key=SigningKey(i.key.kid, 'ES384', o.private))}",
        "bad_signature",
    ),
    "tampered payload": (
        lambda i, o: f"Bearer {tamper(i.token(AUD), sub='admin')}",
        "bad_signature",
    ),
    "tampered aud": (
        lambda i, o: f"Bearer {tamper(i.token('https://x.example'), aud=AUD)}",
        "bad_signature",
    ),
    "expired": (
        lambda i, o: f"Bearer {i.token(AUD, iat=_now() - 400, exp=_now() - 61)}",
        "expired",
    ),
    "iat in future": (
        lambda i, o: f"Bearer {i.token(AUD, iat=_now() + 120, exp=_now() + 400)}",
        "not_yet_valid",
    ),
    "nbf in future": (lambda i, o: f"Bearer {i.token(AUD, nbf=_now() + 120)}", "not_yet_valid"),
    "wrong aud": (
        lambda i, o: f"Bearer {i.token('https://cds.example.org/cds-services')}",
        "wrong_audience",
    ),
    "aud with trailing slash": (lambda i, o: f"Bearer {i.token(AUD + '/')}", "wrong_audience"),
    "unknown iss": (
        lambda i, o: f"Bearer {i.token(AUD, iss='https://evil.example')}",
        "unknown_issuer",
    ),
    "iss missing": (lambda i, o: f"Bearer {i.token(AUD, iss=None)}", "unknown_issuer"),
    "jti missing": (lambda i, o: f"Bearer {i.token(AUD, jti=None)}", "missing_claim"),
    "exp missing": (lambda i, o: f"Bearer {i.token(AUD, exp=None)}", "missing_claim"),
    "iat missing": (lambda i, o: f"Bearer {i.token(AUD, iat=None)}", "missing_claim"),
    "exp as string": (
        lambda i, o: f"Bearer {i.token(AUD, exp=str(_now() + 300))}",
        "invalid_claim",
    ),
    "jti not a string": (lambda i, o: f"Bearer {i.token(AUD, jti=42)}", "invalid_claim"),
    "lifetime too long": (
        lambda i, o: f"Bearer {i.token(AUD, exp=_now() + 3 * 3600)}",
        "lifetime_too_long",
    ),
    "disallowed jku": (
        lambda i, o: f"Bearer {i.token(AUD, headers={'jku': 'https://evil.example/jwks'})}",
        "jku_not_allowed",
    ),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
async def test_rejections_carry_their_reason(
    tmp_path: Path, issuer: Issuer, http: Any, case: str
) -> None:
    build, reason = REJECTIONS[case]
    auth = Authenticator(registry_for(tmp_path, static_client(issuer)), http)
    assert await reason_for(auth, build(issuer, SigningKey.ec384("other-kid"))) == reason


async def test_hs256_signed_with_the_public_key_is_refused(
    tmp_path: Path, rsa_key: SigningKey, http: Any
) -> None:
    # Key confusion: an HMAC keyed with the PEM the verifier holds. A verifier that let the
    # token choose the algorithm would accept this signature.
    issuer = Issuer(ISS, rsa_key)
    header = {"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}
    claims = issuer.claims(AUD)
    signing_input = unsigned_token(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(rsa_key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    token = unsigned_token(header, claims, signature)
    auth = Authenticator(registry_for(tmp_path, {"iss": ISS, "jwks": issuer.jwks()}), http)
    assert await reason_for(auth, f"Bearer {token}") == "alg_not_allowed"


async def test_alg_must_fit_the_key(tmp_path: Path, rsa_key: SigningKey, http: Any) -> None:
    # The key is published as RS384 only; a PS256 signature by the same key is refused.
    issuer = Issuer(ISS, rsa_key)
    auth = Authenticator(registry_for(tmp_path, {"iss": ISS, "jwks": issuer.jwks()}), http)
    ps = SigningKey(rsa_key.kid, "PS256", rsa_key.private)
    assert await reason_for(auth, f"Bearer {issuer.token(AUD, key=ps)}") == "alg_key_mismatch"


async def test_replayed_jti_is_refused_per_issuer(
    tmp_path: Path, issuer: Issuer, ec_key: SigningKey, http: Any
) -> None:
    second = Issuer("https://second-ehr.example", ec_key)
    registry = registry_for(tmp_path, static_client(issuer), static_client(second))
    auth = Authenticator(registry, http)
    token = issuer.token(AUD, jti="once")
    await auth.authenticate(f"Bearer {token}", AUD)
    assert await reason_for(auth, f"Bearer {token}") == "replayed"
    # Another audience does not make the same jti fresh.
    assert await reason_for(auth, f"Bearer {issuer.token(AUD, jti='once')}") == "replayed"
    # The same jti from a different issuer is a different token.
    await auth.authenticate(f"Bearer {second.token(AUD, jti='once')}", AUD)


async def test_rejected_tokens_do_not_use_up_their_jti(
    tmp_path: Path, issuer: Issuer, http: Any
) -> None:
    auth = Authenticator(registry_for(tmp_path, static_client(issuer)), http)
    assert await reason_for(auth, f"Bearer {issuer.token('https://x.example', jti='j1')}") == (
        "wrong_audience"
    )
    await auth.authenticate(f"Bearer {issuer.token(AUD, jti='j1')}", AUD)


async def test_replay_cache_forgets_expired_entries() -> None:
    clock = FakeClock(1000.0)
    cache = MemoryReplayCache(clock)
    assert await cache.first_use("iss", "a", expires_at=1100.0)
    assert await cache.first_use("iss", "b", expires_at=1500.0)
    assert not await cache.first_use("iss", "a", expires_at=1100.0)
    clock.now = 1200.0
    assert await cache.first_use("iss", "c", expires_at=1300.0)
    assert len(cache) == 2  # "a" evicted, "b" and "c" kept
    assert not await cache.first_use("iss", "b", expires_at=1500.0)


async def test_failures_never_put_the_token_in_logs_or_errors(
    tmp_path: Path, issuer: Issuer, http: Any, caplog: pytest.LogCaptureFixture
) -> None:
    auth = Authenticator(registry_for(tmp_path, static_client(issuer)), http)
    caplog.set_level(logging.DEBUG)
    tokens = [
        issuer.token("https://wrong.example"),
        issuer.token(AUD, iss="https://evil.example"),
        tamper(issuer.token(AUD), sub="x"),
        issuer.token(AUD, key=SigningKey.ec384()),
    ]
    for token in tokens:
        with pytest.raises(AuthenticationFailed) as info:
            await auth.authenticate(f"Bearer {token}", AUD)
        for part in token.split("."):
            assert part not in str(info.value)
            assert part not in repr(info.value.args)
            assert info.value.__cause__ is None and info.value.__context__ is None
    assert len(caplog.records) == len(tokens)
    for token in tokens:
        for part in token.split("."):
            assert part not in caplog.text
    assert "reason=wrong_audience" in caplog.text
    assert "reason=unknown_issuer iss='https://evil.example'" in caplog.text


# --------------------------------------------------------------------------------------------
# Key sets fetched from a jwks_url


@pytest.fixture
def jwks_server(ec_key: SigningKey) -> Iterator[JWKSServer]:
    with JWKSServer({"keys": [ec_key.jwk()]}).running() as server:
        yield server


def remote_registry(tmp_path: Path, server: JWKSServer, **extra: Any) -> Any:
    return registry_for(tmp_path, {"iss": ISS, "jwks_url": server.url, **extra})


async def test_remote_keys_are_fetched_once_and_cached(
    tmp_path: Path, issuer: Issuer, jwks_server: JWKSServer, http: Any
) -> None:
    auth = Authenticator(remote_registry(tmp_path, jwks_server), http)
    for _ in range(5):
        await auth.authenticate(f"Bearer {issuer.token(AUD)}", AUD)
    assert jwks_server.requests == 1


async def test_jwks_url_is_an_allowed_jku(
    tmp_path: Path, issuer: Issuer, jwks_server: JWKSServer, http: Any
) -> None:
    auth = Authenticator(remote_registry(tmp_path, jwks_server), http)
    token = issuer.token(AUD, headers={"jku": jwks_server.url})
    await auth.authenticate(f"Bearer {token}", AUD)
    other = issuer.token(AUD, headers={"jku": jwks_server.url + "?other"})
    assert await reason_for(auth, f"Bearer {other}") == "jku_not_allowed"


async def test_rotation_is_picked_up_but_refreshes_are_rate_limited(
    tmp_path: Path, issuer: Issuer, jwks_server: JWKSServer, http: Any
) -> None:
    clock = FakeClock()
    registry = remote_registry(tmp_path, jwks_server, jwks_min_refresh_seconds=30)
    auth = Authenticator(registry, http, monotonic=clock)
    await auth.authenticate(f"Bearer {issuer.token(AUD)}", AUD)
    assert jwks_server.requests == 1

    # An attacker's stream of invented kids costs the JWKS server nothing within the interval.
    clock.now += 1
    for n in range(20):
        bogus = issuer.token(AUD, key=SigningKey(f"bogus-{n}", "ES384", issuer.key.private))
        assert await reason_for(auth, f"Bearer {bogus}") == "unknown_kid"
    assert jwks_server.requests == 1

    # The EHR rotates: the new kid is refused until the interval has passed, then fetched once.
    new_key = SigningKey.ec384("rotated")
    jwks_server.publish(issuer.jwks(issuer.key, new_key))
    assert await reason_for(auth, f"Bearer {issuer.token(AUD, key=new_key)}") == "unknown_kid"
    clock.now += 30
    caller = await auth.authenticate(f"Bearer {issuer.token(AUD, key=new_key)}", AUD)
    assert caller.kid == "rotated"
    assert jwks_server.requests == 2


async def test_concurrent_unknown_kids_share_one_fetch(
    tmp_path: Path, issuer: Issuer, jwks_server: JWKSServer, http: Any
) -> None:
    auth = Authenticator(remote_registry(tmp_path, jwks_server), http)
    tokens = [issuer.token(AUD) for _ in range(10)]
    callers = await asyncio.gather(*(auth.authenticate(f"Bearer {t}", AUD) for t in tokens))
    assert len(callers) == 10
    assert jwks_server.requests == 1


async def test_failed_refresh_keeps_known_keys_and_removed_keys_expire(
    tmp_path: Path, issuer: Issuer, jwks_server: JWKSServer, http: Any
) -> None:
    clock = FakeClock()
    registry = remote_registry(
        tmp_path, jwks_server, jwks_min_refresh_seconds=10, jwks_max_age_seconds=100
    )
    auth = Authenticator(registry, http, monotonic=clock)
    await auth.authenticate(f"Bearer {issuer.token(AUD)}", AUD)

    # JWKS server errors after the cache went stale: keep using the keys we have.
    jwks_server.status = 500
    clock.now += 101
    await auth.authenticate(f"Bearer {issuer.token(AUD)}", AUD)
    assert jwks_server.requests == 2

    # The issuer withdraws the key: once the stale cache is refreshed, the key is gone.
    jwks_server.status = 200
    jwks_server.publish({"keys": [SigningKey.ec384("replacement").jwk()]})
    clock.now += 11
    assert await reason_for(auth, f"Bearer {issuer.token(AUD)}") == "unknown_kid"
    assert jwks_server.requests == 3


async def test_unusable_keys_in_a_fetched_set_are_skipped(
    tmp_path: Path, issuer: Issuer, jwks_server: JWKSServer, http: Any
) -> None:
    bad = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}
    jwks_server.publish({"keys": [bad, {"kty": "EC"}, issuer.key.jwk()]})
    auth = Authenticator(remote_registry(tmp_path, jwks_server), http)
    await auth.authenticate(f"Bearer {issuer.token(AUD)}", AUD)


async def test_unreachable_jwks_url_rejects_without_crashing(
    tmp_path: Path, issuer: Issuer, http: Any
) -> None:
    server = JWKSServer({"keys": []})
    url = server.url  # bound but never served: connection refused after close
    with server.running():
        pass
    registry = registry_for(tmp_path, {"iss": ISS, "jwks_url": url})
    auth = Authenticator(registry, http)
    assert await reason_for(auth, f"Bearer {issuer.token(AUD)}") == "unknown_kid"
