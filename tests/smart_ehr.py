"""A mock EHR for the SMART app tests: an authorization server and a FHIR server, on 127.0.0.1.

One small ASGI app, run under uvicorn by ``serve_app``:

- ``{url}/fhir/.well-known/smart-configuration``: SMART App Launch 2.x discovery;
- ``{url}/auth/authorize``: checks the request (client, redirect_uri, launch, aud, PKCE S256,
  state) and redirects back with a single-use code;
- ``{url}/auth/token``: checks the code, the redirect_uri and the PKCE verifier (and the client
  secret for a confidential client), and answers with ``patient`` and ``appContext``;
- ``{url}/fhir/{type}`` and ``/fhir/{type}/{id}``: reads and searches (``patient=``, paged with
  ``_offset``) over the resources it holds, for a valid bearer token only.

Knobs for the refused cases: ``token_error`` (the token endpoint answers invalid_grant),
``fhir_down`` (every FHIR read answers 503), ``v1_only`` (discovery advertises SMART v1
permissions only, and tokens grant ``.read`` scopes). Everything it saw is in ``requests``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.servers import serve_app

CLIENT_ID = "nt-cds-app"
CLIENT_SECRET = "s3cret-for-the-confidential-client"


@dataclass
class Issued:
    client_id: str
    redirect_uri: str
    challenge: str
    patient: str
    app_context: str | None
    scope: str
    used: bool = False


@dataclass
class EhrState:
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    launches: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    codes: dict[str, Issued] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    authorize_params: list[dict[str, str]] = field(default_factory=list)
    token_forms: list[dict[str, str]] = field(default_factory=list)
    token_auth: list[str | None] = field(default_factory=list)
    token_error: bool = False
    fhir_down: bool = False
    v1_only: bool = False
    require_token: bool = True
    client_secret: str | None = None
    page_size: int = 100

    def add(self, *resources: dict[str, Any]) -> None:
        for resource in resources:
            self.resources.setdefault(resource["resourceType"], []).append(resource)

    def load_bundle(self, path: Path) -> str:
        """Load a (Synthea) transaction bundle; return its patient's id."""
        bundle = json.loads(path.read_text())
        patient_id = ""
        for entry in bundle.get("entry", []):
            resource = entry.get("resource") or {}
            if resource.get("resourceType") == "Patient":
                patient_id = resource["id"]
            self.add(resource)
        return patient_id


def _refers_to(resource: dict[str, Any], patient: str) -> bool:
    subject = resource.get("subject") or resource.get("patient") or {}
    reference = subject.get("reference", "") if isinstance(subject, dict) else ""
    return reference.removeprefix("urn:uuid:").split("/")[-1] == patient


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class MockEhr:
    def __init__(self) -> None:
        self.state = EhrState()
        self.url = ""
        state = self.state

        async def configuration(request: Request) -> Response:
            state.requests.append(request.url.path)
            capabilities = ["launch-ehr", "client-public", "client-confidential-symmetric"]
            capabilities += ["context-ehr-patient", "permission-patient"]
            capabilities.append("permission-v1" if state.v1_only else "permission-v2")
            return JSONResponse(
                {
                    "issuer": self.url,
                    "authorization_endpoint": f"{self.url}/auth/authorize",
                    "token_endpoint": f"{self.url}/auth/token",
                    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                    "grant_types_supported": ["authorization_code"],
                    "scopes_supported": ["launch", "openid", "fhirUser", "patient/*.rs"],
                    "response_types_supported": ["code"],
                    "capabilities": capabilities,
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        async def authorize(request: Request) -> Response:
            state.requests.append(request.url.path)
            params = dict(request.query_params)
            state.authorize_params.append(params)
            redirect_uri = params.get("redirect_uri", "")
            launch = state.launches.get(params.get("launch", ""))
            problems = [
                params.get("response_type") != "code",
                params.get("client_id") != CLIENT_ID,
                not redirect_uri,
                launch is None,
                params.get("aud") != self.fhir_base,
                params.get("code_challenge_method") != "S256",
                not params.get("code_challenge"),
                not params.get("state"),
            ]
            if any(problems):
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            assert launch is not None
            code = secrets.token_urlsafe(16)
            suffix = ".read" if state.v1_only else ".rs"
            state.codes[code] = Issued(
                client_id=params["client_id"],
                redirect_uri=redirect_uri,
                challenge=params["code_challenge"],
                patient=launch[0],
                app_context=launch[1],
                scope=" ".join(
                    ["launch", "openid", "fhirUser"]
                    + [f"patient/{t}{suffix}" for t in ("Patient", "Observation", "Condition")]
                    + [f"patient/{t}{suffix}" for t in ("MedicationRequest", "MedicationStatement")]
                ),
            )
            query = urlencode({"code": code, "state": params["state"]})
            return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

        async def token(request: Request) -> Response:
            state.requests.append(request.url.path)
            # application/x-www-form-urlencoded, read by hand (no python-multipart needed).
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            state.token_forms.append(form)
            state.token_auth.append(request.headers.get("authorization"))
            if state.token_error:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            issued = state.codes.get(form.get("code", ""))
            client_ok = (
                form.get("client_id") == CLIENT_ID
                if state.client_secret is None
                else request.headers.get("authorization")
                == "Basic "
                + base64.b64encode(f"{CLIENT_ID}:{state.client_secret}".encode()).decode()
            )
            if (
                issued is None
                or issued.used
                or not client_ok
                or form.get("grant_type") != "authorization_code"
                or form.get("redirect_uri") != issued.redirect_uri
                or _challenge(form.get("code_verifier", "")) != issued.challenge
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            issued.used = True
            access = secrets.token_urlsafe(24)
            state.tokens.add(access)
            body: dict[str, Any] = {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": issued.scope,
                "patient": issued.patient,
                "need_patient_banner": False,
            }
            if issued.app_context is not None:
                body["appContext"] = issued.app_context
            return JSONResponse(body)

        async def fhir(request: Request) -> Response:
            state.requests.append(request.url.path)
            if state.fhir_down:
                return Response(status_code=503)
            scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
            if state.require_token and (scheme != "Bearer" or credentials not in state.tokens):
                return JSONResponse({"resourceType": "OperationOutcome"}, status_code=401)
            rtype = request.path_params["rtype"]
            rid = request.path_params.get("rid")
            if rid is not None:
                for resource in state.resources.get(rtype, []):
                    if resource.get("id") == rid:
                        return _fhir_json(resource)
                return _fhir_json({"resourceType": "OperationOutcome"}, 404)
            patient = request.query_params.get("patient") or request.query_params.get("subject")
            matches = [
                r
                for r in state.resources.get(rtype, [])
                if patient is None or _refers_to(r, patient)
            ]
            offset = int(request.query_params.get("_offset", "0"))
            page = matches[offset : offset + state.page_size]
            bundle: dict[str, Any] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matches),
                "entry": [{"resource": r} for r in page],
            }
            if offset + state.page_size < len(matches):
                bundle["link"] = [
                    {
                        "relation": "next",
                        "url": f"{self.fhir_base}/{rtype}?patient={patient}"
                        f"&_offset={offset + state.page_size}",
                    }
                ]
            return _fhir_json(bundle)

        self.app = Starlette(
            routes=[
                Route("/fhir/.well-known/smart-configuration", configuration),
                Route("/auth/authorize", authorize),
                Route("/auth/token", token, methods=["POST"]),
                Route("/fhir/{rtype}/{rid}", fhir),
                Route("/fhir/{rtype}", fhir),
            ]
        )

    @property
    def fhir_base(self) -> str:
        return f"{self.url}/fhir"

    def launch_url(self, service_url: str, patient: str, app_context: str | None = None) -> str:
        """What the EHR opens when a clinician clicks a card's smart link."""
        launch = secrets.token_urlsafe(12)
        self.state.launches[launch] = (patient, app_context)
        return f"{service_url}/app/launch?" + urlencode({"iss": self.fhir_base, "launch": launch})


def _fhir_json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/fhir+json")


@contextmanager
def mock_ehr() -> Iterator[MockEhr]:
    ehr = MockEhr()
    with serve_app(ehr.app) as url:
        ehr.url = url
        yield ehr


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# -- a patient with a course to plot ---------------------------------------------------------

DEMO_PATIENT = "demo-course-1"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _when(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


def demo_patient(patient_id: str = DEMO_PATIENT) -> list[dict[str, Any]]:
    """A woman of 46 with two years of B12 (in pmol/L), ferritin and PHQ-9 results, a B12
    supplement started after the low results, and sertraline started and stopped."""
    born = datetime.now(UTC).date().replace(year=datetime.now(UTC).year - 46, day=1)
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": patient_id,
            "gender": "female",
            "birthDate": born.isoformat(),
            "name": [{"family": "Quetzalcoatl-Demo", "given": ["Ysolde"]}],
        }
    ]
    counter = iter(range(1, 1000))

    def obs(code: str, value: float, unit: str | None, days: float) -> dict[str, Any]:
        quantity: dict[str, Any] = {"value": value}
        if unit:
            quantity.update(unit=unit, system="http://unitsofmeasure.org", code=unit)
        return {
            "resourceType": "Observation",
            "id": f"{patient_id}-obs-{next(counter)}",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": _when(days),
            "valueQuantity": quantity,
        }

    # B12 in pmol/L (the chart converts bands to it); low, then repleted after the supplement.
    for days, value in ((700, 210), (560, 150), (420, 118), (300, 190), (180, 260), (40, 330)):
        resources.append(obs("2132-9", value, "pmol/L", days))
    for days, value in ((690, 28), (430, 19), (240, 14), (35, 12)):
        resources.append(obs("2276-4", value, "ug/L", days))
    for days, value in ((650, 6), (400, 11), (250, 15), (120, 13), (30, 12)):
        resources.append(obs("44261-6", value, "{score}", days))
    resources.append(obs("1989-3", 18, "ng/mL", 33))
    resources.append(obs("30522-7", 1.4, "mg/L", 33))
    resources += [
        {
            "resourceType": "MedicationStatement",
            "id": f"{patient_id}-b12",
            "status": "active",
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": "11248", "display": "cyanocobalamin"}],
                "text": "Vitamin B12 1000 mcg tablet",
            },
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectivePeriod": {"start": _when(400)},
        },
        {
            "resourceType": "MedicationRequest",
            "id": f"{patient_id}-sertraline",
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": "36437", "display": "sertraline"}],
                "text": "Sertraline 50 mg tablet",
            },
            "subject": {"reference": f"Patient/{patient_id}"},
            "authoredOn": _when(620),
            "dispenseRequest": {"validityPeriod": {"start": _when(620), "end": _when(200)}},
        },
    ]
    return resources
