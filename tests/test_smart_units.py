"""The SMART app's pieces without a server: sealed state, PKCE, scopes, bands, SVG, settings."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from cds_service.cli.main import app as cli
from cds_service.knowledge import KnowledgeBase
from cds_service.settings import Settings
from cds_service.snapshot.facts import LabFact
from cds_service.web.bands import band_segments
from cds_service.web.smart.charts import build_chart
from cds_service.web.smart.oauth import grants_read
from cds_service.web.smart.page import parse_app_context
from cds_service.web.smart.state import (
    LaunchState,
    StateSealer,
    cookie_name,
    new_state,
    new_verifier,
    pkce_challenge,
)


def launch_state(expires_in: float = 600) -> LaunchState:
    return LaunchState(
        state=new_state(),
        verifier=new_verifier(),
        iss="https://ehr.example.org/fhir",
        token_endpoint="https://ehr.example.org/token",
        redirect_uri="https://cds.example.org/app/callback",
        expires_at=time.time() + expires_in,
    )


def test_sealed_state_opens_only_intact_unexpired_and_with_its_key() -> None:
    sealer = StateSealer(SecretStr("a" * 32))
    state = launch_state()
    sealed = sealer.seal(state)
    assert state.verifier not in sealed and state.iss not in sealed
    assert sealer.open(sealed, now=time.time()) == state
    # The same key in another worker opens it.
    assert StateSealer(SecretStr("a" * 32)).open(sealed, now=time.time()) == state
    assert StateSealer(SecretStr("b" * 32)).open(sealed, now=time.time()) is None
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    assert sealer.open(tampered, now=time.time()) is None
    assert sealer.open("not-base64!", now=time.time()) is None
    assert sealer.open("", now=time.time()) is None
    assert sealer.open(sealed, now=time.time() + 601) is None


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert 43 <= len(new_verifier()) <= 128
    assert cookie_name("a") != cookie_name("b")


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        ("launch patient/Observation.rs", True),
        ("patient/Observation.read", True),
        ("patient/*.read", True),
        ("user/Observation.cruds", True),
        ("patient/Observation.rs?category=laboratory", True),
        ("patient/Observation.c", False),
        ("patient/Condition.rs", False),
        ("launch openid", False),
        (None, True),
    ],
)
def test_granted_scopes_v1_and_v2(scope: str | None, granted: bool) -> None:
    assert grants_read(scope, "Observation") is granted


def test_app_context_keeps_only_known_rules_and_a_card_id(kb: KnowledgeBase) -> None:
    rule = kb.rules[0].id
    context = parse_app_context(
        orjson.dumps({"card": "c-1", "rules": [rule, "<script>", "unknown-rule"]}).decode(), kb
    )
    assert context.card == "c-1" and context.rules == (rule,)
    assert parse_app_context("not json", kb).rules == ()
    assert parse_app_context('{"card": "<b>"}', kb).card is None


def test_bands_are_split_where_the_first_matching_band_changes(kb: KnowledgeBase) -> None:
    measure = kb.measures["vitamin-b12"]
    canonical = band_segments(measure, sex=None, method=None, factor=1.0)
    assert [s.band_id for s in canonical] == ["deficient", "indeterminate", "adequate"]
    assert (canonical[0].low, canonical[0].high) == (None, 200.0)
    factor = kb.unit_factors["vitamin-b12"]["pmol/l"]
    converted = band_segments(measure, sex=None, method=None, factor=factor)
    assert converted[0].high == pytest.approx(200 * factor)
    # Sex-specific bands: a man's ferritin overload starts higher than the general band.
    ferritin = kb.measures["ferritin"]
    male = band_segments(ferritin, sex="male", method=None, factor=1.0)
    general = band_segments(ferritin, sex=None, method=None, factor=1.0)
    assert male[-1].low is not None and general[-1].low is not None
    assert male[-1].low > general[-1].low


def test_a_chart_has_no_inline_style_and_prefixed_ids(kb: KnowledgeBase) -> None:
    now = datetime.now(UTC)
    facts = [
        LabFact(
            measure_id="vitamin-b12",
            value=value,
            comparator=None,
            unit="pg/mL",
            reported=f"{value * 0.738:g} pmol/L",
            code="2132-9",
            effective=now - timedelta(days=days),
            resource_id=f"Observation/{days}",
            band=None,
        )
        for days, value in ((400, 150.0), (200, 250.0), (10, 420.0))
    ]
    chart = build_chart(
        kb, kb.measures["vitamin-b12"], facts, sex=None, therapies=(), chart_id="chart-b12"
    )
    assert chart.unit == "pmol/L" and chart.converted == 0
    assert chart.svg is not None
    assert "style=" not in chart.svg and "<style" not in chart.svg and "<script" not in chart.svg
    assert 'id="chart-b12-' in chart.svg and 'class="band band-deficient"' in chart.svg
    assert 'class="points"' in chart.svg and "<title" in chart.svg


def test_settings_refuse_an_incomplete_app() -> None:
    with pytest.raises(ValidationError, match="CDS_SMART_ISS_ALLOWED"):
        Settings(smart_client_id="x")
    with pytest.raises(ValidationError, match="CDS_SMART_STATE_KEY is required"):
        Settings(smart_client_id="x", smart_iss_allowed="https://e/fhir", workers=2)
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(smart_state_key="short")
    with pytest.raises(ValidationError, match="CDS_SMART_FRAME_ANCESTORS"):
        Settings(smart_frame_ancestors="'self'; script-src *")
    settings = Settings(smart_client_id="x", smart_iss_allowed="https://e/fhir/, https://f/r4")
    assert settings.smart_iss_allowed == ["https://e/fhir", "https://f/r4"]
    assert settings.smart_enabled and not Settings().smart_enabled


def test_dev_app_command_checks_its_arguments() -> None:
    runner = CliRunner()
    bad_url = runner.invoke(cli, ["app", "--fhir-server", "ftp://x", "--patient", "p1"])
    assert bad_url.exit_code == 2 and "http(s) URL" in bad_url.output
    bad_id = runner.invoke(cli, ["app", "--fhir-server", "http://x/fhir", "--patient", "a/b"])
    assert bad_id.exit_code == 2 and "FHIR id" in bad_id.output
