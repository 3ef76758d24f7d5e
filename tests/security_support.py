"""Test helpers for authentication: key pairs that mint CDS Hooks JWTs, and a JWKS server.

Keys are generated per test session (EC P-384 and RSA 2048), never read from disk.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass
class SigningKey:
    """A private key with its kid and algorithm; ``jwk()`` is the public half."""

    kid: str
    alg: str
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @classmethod
    def ec384(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or f"ec-{uuid.uuid4()}", "ES384", ec.generate_private_key(ec.SECP384R1()))

    @classmethod
    def rsa(cls, kid: str | None = None, alg: str = "RS384", bits: int = 2048) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return cls(kid or f"rsa-{uuid.uuid4()}", alg, private)

    def jwk(self, *, with_alg: bool = True, use: str | None = "sig") -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = RSAAlgorithm.to_jwk(public, as_dict=True)
        data["kid"] = self.kid
        if with_alg:
            data["alg"] = self.alg
        if use is not None:
            data["use"] = use
        return data

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass
class Issuer:
    """An EHR: an ``iss`` and its current signing key; ``token()`` mints a valid CDS Hooks JWT."""

    iss: str
    key: SigningKey
    tenant: str | None = None
    extra_headers: dict[str, Any] = field(default_factory=dict)

    def jwks(self, *keys: SigningKey) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in (keys or (self.key,))]}

    def claims(self, aud: str | list[str], **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.iss,
            "aud": aud,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        if self.tenant is not None:
            claims["tenant"] = self.tenant
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        aud: str | list[str],
        *,
        key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        key = key or self.key
        header = {"typ": "JWT", "kid": key.kid, **self.extra_headers, **(headers or {})}
        # None removes a header ("typ": None makes PyJWT leave typ out).
        header = {k: v for k, v in header.items() if v is not None or k == "typ"}
        return jwt.encode(
            self.claims(aud, **claims), key.private, algorithm=key.alg, headers=header
        )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A hand-built compact JWS, for tokens no honest library would produce (alg none)."""
    parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join([*(b64url(p) for p in parts), b64url(signature)])


def tamper(token: str, **claims: Any) -> str:
    """Change claims in a signed token while keeping its header and signature."""
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(claims)
    return ".".join([header, b64url(json.dumps(data).encode()), signature])


def write_registry(folder: Path, clients: list[dict[str, Any]]) -> Path:
    """Write a trusted-clients YAML file (JSON is valid YAML) and return its path."""
    path = folder / "clients.yaml"
    path.write_text(json.dumps({"clients": clients}), encoding="utf-8")
    return path


class JWKSServer:
    """A real HTTP server on 127.0.0.1 publishing a JWKS that tests can swap, counting GETs."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.requests = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer._lock:
                    outer.requests += 1
                    body = json.dumps(outer.document).encode()
                    status = outer.status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"

    def publish(self, document: dict[str, Any]) -> None:
        with self._lock:
            self.document = document

    @contextmanager
    def running(self) -> Iterator[JWKSServer]:
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)
