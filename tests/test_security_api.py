"""Authentication through the HTTP API: the app under uvicorn, real tokens, real JWKS server.

Each rejection case of issue 5 is sent to a real server and must come back as a bare 401 with
``WWW-Authenticate: Bearer``; the unit tests (test_security.py) pin the reason of each.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cds_service.errors import TrustedClientsError
from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from tests.conftest import make_settings
from tests.factories import hook_request, prefetch_for
from tests.security_support import (
    Issuer,
    JWKSServer,
    SigningKey,
    tamper,
    unsigned_token,
    write_registry,
)
from tests.servers import serve_app

DISCOVERY = "/cds-services"
SERVICE = "/cds-services/neurotransmitter-patient-view"
FEEDBACK = "/cds-services/neurotransmitter-patient-view/feedback"
SANDBOX = "https://sandbox.cds-hooks.org"
ALLOWED_JKU = "https://ehr.example.org/.well-known/jwks.json"


@pytest.fixture(scope="module")
def ec_issuer() -> Issuer:
    return Issuer("https://ehr.example.org", SigningKey.ec384())


@pytest.fixture(scope="module")
def rsa_issuer() -> Issuer:
    return Issuer("https://rsa-ehr.example.org", SigningKey.rsa(alg="RS384"), tenant="org-1")


@pytest.fixture(scope="module")
def service_url(
    tmp_path_factory: pytest.TempPathFactory,
    kb: KnowledgeBase,
    ec_issuer: Issuer,
    rsa_issuer: Issuer,
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("auth")
    registry = write_registry(
        folder,
        [
            {"iss": ec_issuer.iss, "jwks": ec_issuer.jwks(), "allowed_jku": [ALLOWED_JKU]},
            {"iss": rsa_issuer.iss, "jwks": rsa_issuer.jwks(), "tenants": ["org-1"]},
        ],
    )
    settings = make_settings(folder, auth="jwt", trusted_clients=registry)
    with serve_app(create_app(settings, knowledge=kb)) as url:
        yield url


@pytest.fixture
def http(service_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service_url, timeout=10) as client:
        yield client


def call(http: httpx.Client, path: str, token: str | None, **headers: str) -> httpx.Response:
    """Discovery for the discovery path, else a valid POST body for a service or feedback."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if path == DISCOVERY:
        return http.get(path, headers=headers)
    if path == FEEDBACK:
        body: dict[str, Any] = {
            "feedback": [
                {
                    "card": str(uuid.uuid4()),
                    "outcome": "overridden",
                    "overrideReason": {"userComment": "not relevant"},
                    "outcomeTimestamp": "2026-01-01T10:00:00Z",
                }
            ]
        }
    else:
        body = hook_request(prefetch=prefetch_for())
    return http.post(path, json=body, headers=headers)


def assert_bare_401(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.content == b""


@pytest.mark.parametrize("path", [DISCOVERY, SERVICE, FEEDBACK])
@pytest.mark.parametrize("issuer_name", ["ec_issuer", "rsa_issuer"])
def test_valid_token_passes(
    http: httpx.Client,
    service_url: str,
    path: str,
    issuer_name: str,
    request: pytest.FixtureRequest,
) -> None:
    issuer: Issuer = request.getfixturevalue(issuer_name)
    response = call(http, path, issuer.token(service_url + path))
    assert response.status_code == 200, response.text
    if path == DISCOVERY:
        assert {s["id"] for s in response.json()["services"]} >= {"neurotransmitter-patient-view"}
    if path == SERVICE:
        assert response.json()["cards"] == []


@pytest.mark.parametrize("path", [DISCOVERY, SERVICE, FEEDBACK])
def test_no_token_is_a_bare_401(http: httpx.Client, path: str) -> None:
    assert_bare_401(call(http, path, None))


def test_allowlisted_jku_and_aud_array_pass(
    http: httpx.Client, service_url: str, ec_issuer: Issuer
) -> None:
    token = ec_issuer.token(
        ["https://elsewhere.example", service_url + SERVICE], headers={"jku": ALLOWED_JKU}
    )
    assert call(http, SERVICE, token).status_code == 200


# Every case from issue 5, built from (issuer, url called) -> token.
Case = Callable[[Issuer, str], str]
REJECTED: dict[str, Case] = {
    "malformed": lambda i, aud: "not.a-jwt",
    "alg none": lambda i, aud: unsigned_token(
        {"alg": "none", "typ": "JWT", "kid": i.key.kid}, i.claims(aud)
    ),
    "HS256 with public key": lambda i, aud: _hs256_with_public_key(i, aud),
    "unknown kid": lambda i, aud: i.token(aud, key=SigningKey.ec384("unknown")),
    "tampered payload": lambda i, aud: tamper(i.token(aud), sub="someone-else"),
    "expired": lambda i, aud: i.token(
        aud, iat=i.claims(aud)["iat"] - 600, exp=i.claims(aud)["iat"] - 300
    ),
    "iat in future": lambda i, aud: i.token(
        aud, iat=i.claims(aud)["iat"] + 600, exp=i.claims(aud)["iat"] + 900
    ),
    "wrong aud": lambda i, aud: i.token(aud.replace("/cds-services", "/other")),
    "unknown iss": lambda i, aud: i.token(aud, iss="https://intruder.example"),
    "disallowed jku": lambda i, aud: i.token(
        aud, headers={"jku": "https://intruder.example/jwks.json"}
    ),
}


def _hs256_with_public_key(issuer: Issuer, aud: str) -> str:
    import hashlib
    import hmac

    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.key.kid}
    unsigned = unsigned_token(header, issuer.claims(aud)).rsplit(".", 1)[0]
    signature = hmac.new(issuer.key.public_pem(), unsigned.encode(), hashlib.sha256).digest()
    return unsigned_token(header, issuer.claims(aud), signature)


@pytest.mark.parametrize("path", [DISCOVERY, SERVICE, FEEDBACK])
@pytest.mark.parametrize("case", list(REJECTED))
def test_bad_tokens_get_a_bare_401(
    http: httpx.Client, service_url: str, ec_issuer: Issuer, case: str, path: str
) -> None:
    assert_bare_401(call(http, path, REJECTED[case](ec_issuer, service_url + path)))


def test_tampered_signature_keeps_claims_but_fails(
    http: httpx.Client, service_url: str, ec_issuer: Issuer
) -> None:
    token = ec_issuer.token(service_url + SERVICE)
    head, body, signature = token.split(".")
    flipped = ("A" if signature[10] != "A" else "B").join([signature[:10], signature[11:]])
    assert_bare_401(call(http, SERVICE, f"{head}.{body}.{flipped}"))


def test_replayed_jti_is_refused(http: httpx.Client, service_url: str, ec_issuer: Issuer) -> None:
    token = ec_issuer.token(service_url + SERVICE)
    assert call(http, SERVICE, token).status_code == 200
    assert_bare_401(call(http, SERVICE, token))


def test_disallowed_tenant_is_refused(
    http: httpx.Client, service_url: str, rsa_issuer: Issuer
) -> None:
    assert_bare_401(call(http, SERVICE, rsa_issuer.token(service_url + SERVICE, tenant="org-2")))
    assert_bare_401(call(http, SERVICE, rsa_issuer.token(service_url + SERVICE, tenant=None)))


def test_token_for_one_endpoint_does_not_open_another(
    http: httpx.Client, service_url: str, ec_issuer: Issuer
) -> None:
    assert_bare_401(call(http, FEEDBACK, ec_issuer.token(service_url + SERVICE)))


def test_preflight_and_health_need_no_token(http: httpx.Client) -> None:
    preflight = http.options(
        SERVICE,
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    health = http.get("/healthz")
    assert health.status_code == 200


def test_401_carries_cors_headers_for_browser_clients(http: httpx.Client) -> None:
    # Without them the sandbox would report a CORS failure instead of the 401.
    response = http.get(DISCOVERY, headers={"Origin": SANDBOX})
    assert_bare_401(response)
    assert response.headers["access-control-allow-origin"] in ("*", SANDBOX)


def test_no_token_appears_in_logs(
    http: httpx.Client,
    service_url: str,
    ec_issuer: Issuer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = [REJECTED[case](ec_issuer, service_url + SERVICE) for case in REJECTED]
    good = ec_issuer.token(service_url + SERVICE)
    tokens.append(good)
    for token in tokens:
        call(http, SERVICE, token)
    call(http, SERVICE, good)  # replay
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "authentication failed: reason=unknown_issuer" in logged  # the capture works
    assert "reason=replayed" in logged
    for token in tokens:
        for part in token.split("."):
            if len(part) > 8:
                assert part not in logged


# --------------------------------------------------------------------------------------------
# Key rotation at a jwks_url, and start-up behaviour


def test_key_rotation_at_jwks_url_is_picked_up_without_restart(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    old, new = SigningKey.ec384("2024-key"), SigningKey.ec384("2025-key")
    issuer = Issuer("https://rotating-ehr.example.org", old)
    with JWKSServer(issuer.jwks(old)).running() as jwks:
        registry = write_registry(
            tmp_path, [{"iss": issuer.iss, "jwks_url": jwks.url, "jwks_min_refresh_seconds": 0}]
        )
        settings = make_settings(tmp_path, auth="jwt", trusted_clients=registry)
        with (
            serve_app(create_app(settings, knowledge=kb)) as url,
            httpx.Client(base_url=url) as http,
        ):
            aud = url + DISCOVERY
            assert call(http, DISCOVERY, issuer.token(aud)).status_code == 200
            assert_bare_401(call(http, DISCOVERY, issuer.token(aud, key=new)))

            jwks.publish(issuer.jwks(old, new))
            assert call(http, DISCOVERY, issuer.token(aud, key=new)).status_code == 200
            # The old key is withdrawn: refused after the next refresh.
            jwks.publish(issuer.jwks(new))
            assert_bare_401(call(http, DISCOVERY, issuer.token(aud, key=SigningKey.ec384("x"))))
            assert_bare_401(call(http, DISCOVERY, issuer.token(aud, key=old)))
            assert call(http, DISCOVERY, issuer.token(aud, key=new)).status_code == 200
        assert jwks.requests == 5


def test_public_base_url_defines_the_audience(
    tmp_path: Path, kb: KnowledgeBase, ec_issuer: Issuer
) -> None:
    public = "https://cds.example.org/nt"
    registry = write_registry(tmp_path, [{"iss": ec_issuer.iss, "jwks": ec_issuer.jwks()}])
    settings = make_settings(tmp_path, auth="jwt", trusted_clients=registry, public_base_url=public)
    with serve_app(create_app(settings, knowledge=kb)) as url, httpx.Client(base_url=url) as http:
        assert call(http, DISCOVERY, ec_issuer.token(public + DISCOVERY)).status_code == 200
        assert_bare_401(call(http, DISCOVERY, ec_issuer.token(url + DISCOVERY)))


def test_invalid_registry_refuses_to_start(tmp_path: Path, kb: KnowledgeBase) -> None:
    registry = write_registry(
        tmp_path, [{"iss": "https://ehr.example.org", "jwks_url": "http://ehr.example.org/k"}]
    )
    settings = make_settings(tmp_path, auth="jwt", trusted_clients=registry)
    with pytest.raises(TrustedClientsError, match=r"clients\[0\]\.jwks_url"):
        create_app(settings, knowledge=kb)


def test_default_settings_require_jwt_with_the_shipped_registry(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    settings = make_settings(tmp_path)
    assert type(settings).model_fields["auth"].default == "jwt"
    app_settings = make_settings(tmp_path, auth="jwt")
    with (
        serve_app(create_app(app_settings, knowledge=kb)) as url,
        httpx.Client(base_url=url) as http,
    ):
        assert_bare_401(http.get(DISCOVERY))
        # A token from the public sandbox's issuer, not signed with its key: refused.
        impostor = Issuer(
            SANDBOX,
            SigningKey("44823f3d-0b01-4a6c-a80e-b9d3e8a7226f", "ES384", SigningKey.ec384().private),
        )
        assert_bare_401(call(http, DISCOVERY, impostor.token(url + DISCOVERY)))


def test_auth_off_lets_calls_through_and_warns(
    tmp_path: Path, kb: KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    settings = make_settings(tmp_path, auth="off")
    with serve_app(create_app(settings, knowledge=kb)) as url, httpx.Client(base_url=url) as http:
        assert http.get(DISCOVERY).status_code == 200
    assert "CDS_AUTH=off" in caplog.text
