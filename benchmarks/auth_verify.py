"""Cost of authenticating one call (Authenticator.authenticate), per algorithm.

Run: .venv/bin/python benchmarks/auth_verify.py [N]
Tokens are minted beforehand (each call needs a fresh jti), so only verification is timed:
header and claim parsing, key lookup, signature check, claim checks, replay-cache insert.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cds_service.security import Authenticator, load_trusted_clients
from tests.security_support import Issuer, SigningKey

AUD = "https://cds.example.org/cds-services/nt-patient-view"


async def measure(key: SigningKey, n: int) -> list[float]:
    issuer = Issuer("https://ehr.example.org", key)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clients.yaml"
        path.write_text(json.dumps({"clients": [{"iss": issuer.iss, "jwks": issuer.jwks()}]}))
        registry = load_trusted_clients(path)
    tokens = [f"Bearer {issuer.token(AUD)}" for _ in range(n)]
    async with httpx.AsyncClient() as http:
        auth = Authenticator(registry, http)
        timings = []
        for token in tokens:
            start = time.perf_counter()
            await auth.authenticate(token, AUD)
            timings.append((time.perf_counter() - start) * 1e6)
    return timings


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for label, key in [
        ("ES256 (P-256)", SigningKey("p256", "ES256", ec.generate_private_key(ec.SECP256R1()))),
        ("ES384 (P-384)", SigningKey.ec384()),
        ("RS384 (2048)", SigningKey.rsa(alg="RS384")),
        ("PS256 (2048)", SigningKey.rsa(alg="PS256")),
    ]:
        timings = asyncio.run(measure(key, n))
        timings.sort()
        print(
            f"{label:14} n={n} median={statistics.median(timings):7.1f} us "
            f"p99={timings[int(n * 0.99) - 1]:7.1f} us"
        )


if __name__ == "__main__":
    main()
