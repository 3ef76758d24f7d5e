"""The SMART App Launch 2.x EHR launch, from the app's side: discovery, authorize, token.

- ``discover``: ``GET {iss}/.well-known/smart-configuration`` (only for an ``iss`` on the
  allow-list, checked by the caller first: a launch must not make the service fetch from an
  attacker's server).
- ``authorize_url``: authorization code with PKCE S256, ``state``, ``aud=iss``, ``launch``.
- ``exchange``: the code for an access token (public client, or ``client_secret_basic`` for a
  confidential one); the answer must name the ``patient``; ``appContext`` is read when given.

Every failure becomes ``AppRefused`` with words for the clinician. The access token and the
code are never logged; the EHR's error text is not shown, only its OAuth error code.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import httpx
import orjson
from pydantic import SecretStr

from cds_service.errors import AppRefused

logger = logging.getLogger(__name__)

# Patient-level read access to what the engine reads (hooks/neurotransmitter-patient-view.yaml).
# SMART v2 permissions (.rs: read and search); servers that only know v1 get .read.
RESOURCE_TYPES = (
    "Patient",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "Condition",
    "QuestionnaireResponse",
)
BASE_SCOPES = ("launch", "openid", "fhirUser")
# An OAuth error code (RFC 6749 §4.1.2.1: %x20-21 / %x23-5B / %x5D-7E); we show only simple ones.
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
# A FHIR id (R4 §2.1.27.1): what the token response's `patient` must be before it goes in a URL.
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
MAX_CONFIG_BYTES = 256 * 1024
MAX_TOKEN_BYTES = 64 * 1024
MAX_APP_CONTEXT = 2048


@dataclass(frozen=True, slots=True)
class SmartConfiguration:
    authorization_endpoint: str
    token_endpoint: str
    capabilities: tuple[str, ...]

    @property
    def scope_version(self) -> str:
        """ "v2" unless the server says it knows only SMART v1 permissions."""
        caps = set(self.capabilities)
        return "v1" if "permission-v1" in caps and "permission-v2" not in caps else "v2"


@dataclass(frozen=True, slots=True)
class Grant:
    """What the token endpoint granted. ``access_token`` lives only as long as the request."""

    access_token: SecretStr
    patient: str
    scope: str | None
    app_context: str | None


def requested_scopes(config: SmartConfiguration) -> str:
    suffix = ".read" if config.scope_version == "v1" else ".rs"
    return " ".join([*BASE_SCOPES, *(f"patient/{t}{suffix}" for t in RESOURCE_TYPES)])


def grants_read(scope: str | None, resource_type: str) -> bool:
    """True when ``scope`` lets the app read ``resource_type`` (v2 .r/.rs/.cruds, v1 .read/.*).

    A token response without ``scope`` is given the benefit of the doubt: the FHIR server
    still decides, and a refused read shows on the page as data that could not be read.
    """
    if scope is None:
        return True
    for item in scope.split():
        context, _, permission = item.partition("/")
        target, _, access = permission.partition(".")
        if context not in ("patient", "user", "system") or target not in (resource_type, "*"):
            continue
        access = access.split("?", 1)[0]  # v2 granular scopes: patient/Observation.rs?category=
        if access in ("read", "*") or (access and set(access) <= set("cruds") and "r" in access):
            return True
    return False


def basic_credentials(client_id: str, client_secret: SecretStr) -> str:
    """client_secret_basic: both parts form-urlencoded before base64 (RFC 6749 §2.3.1)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret.get_secret_value())}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def _absolute(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not url.isprintable():
        return None
    return url


async def _json(http: httpx.AsyncClient, request: httpx.Request, limit: int) -> tuple[int, Any]:
    """(status, parsed JSON or None) of one request, reading at most ``limit`` bytes."""
    response = await http.send(request, stream=True)
    try:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                return response.status_code, None
            chunks.append(chunk)
    finally:
        await response.aclose()
    try:
        return response.status_code, orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        return response.status_code, None


async def discover(http: httpx.AsyncClient, iss: str) -> SmartConfiguration:
    """Read ``{iss}/.well-known/smart-configuration`` (SMART App Launch 2.x §Discovery)."""
    url = iss.rstrip("/") + "/.well-known/smart-configuration"
    unreadable = AppRefused(
        502,
        "The EHR's SMART configuration could not be read",
        "The app could not read how to sign in at this EHR. Try again later; if it keeps "
        "happening, tell the team that runs the EHR integration.",
        reason="smart-configuration",
    )
    try:
        status, body = await _json(
            http,
            http.build_request("GET", url, headers={"Accept": "application/json"}),
            MAX_CONFIG_BYTES,
        )
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        logger.warning("SMART configuration unreadable: %s", type(exc).__name__)
        raise unreadable from exc
    if status != 200 or not isinstance(body, Mapping):
        logger.warning("SMART configuration unreadable: status %s", status)
        raise unreadable
    authorize = _absolute(body.get("authorization_endpoint"))
    token = _absolute(body.get("token_endpoint"))
    if authorize is None or token is None:
        logger.warning("SMART configuration without usable authorization or token endpoint")
        raise unreadable
    methods = body.get("code_challenge_methods_supported")
    # SMART 2.x servers SHALL support S256 and list it; an explicit list without it is a refusal.
    if isinstance(methods, list) and "S256" not in methods:
        raise AppRefused(
            502,
            "The EHR does not support a secure launch",
            "This EHR does not offer PKCE with S256, which the app requires.",
            reason="no-pkce-s256",
        )
    capabilities = body.get("capabilities")
    caps = (
        tuple(c for c in capabilities if isinstance(c, str))
        if isinstance(capabilities, list)
        else ()
    )
    return SmartConfiguration(authorize, token, caps)


def authorize_url(
    config: SmartConfiguration,
    *,
    client_id: str,
    redirect_uri: str,
    launch: str,
    state: str,
    challenge: str,
    iss: str,
) -> str:
    """The EHR's authorize endpoint with our request (RFC 6749 §4.1.1, RFC 7636, SMART)."""
    parts = urlsplit(config.authorization_endpoint)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("launch", launch),
        ("scope", requested_scopes(config)),
        ("state", state),
        ("aud", iss),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def exchange(
    http: httpx.AsyncClient,
    *,
    token_endpoint: str,
    code: str,
    verifier: str,
    redirect_uri: str,
    client_id: str,
    client_secret: SecretStr | None,
) -> Grant:
    """Trade the authorization code for an access token (SMART App Launch 2.x §Obtain token)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    headers = {"Accept": "application/json"}
    if client_secret is None:
        form["client_id"] = client_id
    else:
        headers["Authorization"] = basic_credentials(client_id, client_secret)
    refused = AppRefused(
        502,
        "The EHR did not grant access",
        "The EHR did not give the app access to this patient's record. Open the app again "
        "from the card; if it keeps happening, tell the team that runs the EHR integration.",
        reason="token-error",
    )
    request = http.build_request("POST", token_endpoint, data=form, headers=headers)
    try:
        status, body = await _json(http, request, MAX_TOKEN_BYTES)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        logger.warning("SMART token request failed: %s", type(exc).__name__)
        raise refused from exc
    if status != 200 or not isinstance(body, Mapping):
        error = body.get("error") if isinstance(body, Mapping) else None
        shown = error if isinstance(error, str) and _ERROR_CODE.match(error) else None
        logger.warning("SMART token request refused: status %s, error %s", status, shown)
        if shown:
            refused.message += f" (The EHR answered: {shown}.)"
        raise refused
    token = body.get("access_token")
    token_type = body.get("token_type")
    if (
        not isinstance(token, str)
        or not token
        or not all("!" <= c <= "~" for c in token)
        or not isinstance(token_type, str)
        or token_type.lower() != "bearer"
    ):
        logger.warning("SMART token response without a usable bearer token")
        raise refused
    patient = body.get("patient")
    if not isinstance(patient, str) or not FHIR_ID.match(patient):
        logger.warning("SMART token response without a usable patient id")
        raise AppRefused(
            502,
            "No patient was selected",
            "The EHR did not say which patient the app is for. Open the app from a card in "
            "the patient's chart.",
            reason="no-patient",
        )
    scope = body.get("scope") if isinstance(body.get("scope"), str) else None
    for needed in ("Patient", "Observation"):
        if not grants_read(scope, needed):
            logger.warning("SMART token lacks read access to %s", needed)
            raise AppRefused(
                403,
                "The EHR did not grant enough access",
                f"The app needs to read the patient's {needed} records and the EHR did not "
                "allow it. Ask the team that runs the EHR integration to grant the app's scopes.",
                reason="scope",
            )
    return Grant(SecretStr(token), patient, scope, _app_context(body.get("appContext")))


def _app_context(value: Any) -> str | None:
    """The launch's appContext as a string (some servers send the JSON object itself)."""
    if isinstance(value, Mapping):
        value = orjson.dumps(value).decode()
    if not isinstance(value, str) or not value or len(value) > MAX_APP_CONTEXT:
        return None
    return value
