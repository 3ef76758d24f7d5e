"""``make bench``: every benchmark of issue 7 in one run, written to docs/benchmarks.md.

    python -m benchmarks.run                 # the full run (about 10 minutes on 2 cores)
    python -m benchmarks.run --quick         # tiny sizes and loads: checks the harness only

Results also go to a JSON file (``--json``) so runs can be compared.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from benchmarks import http_load, inprocess, report
from benchmarks.servers import run_server
from benchmarks.synthetic import (
    PATIENT_ID,
    SEED,
    _Patient,
    hook_request,
    prefetch_for,
    reference_now,
    synthea_request,
    synthetic_request,
)
from cds_service.http.app import freeze_startup_heap
from cds_service.knowledge import KnowledgeBase, load_knowledge
from cds_service.protocol.services import ServiceRegistry, load_services
from cds_service.settings import PROJECT_ROOT, Settings

SYNTHEA = PROJECT_ROOT.parent / "shared" / "testdata" / "synthea"
PATIENT_VIEW = "neurotransmitter-patient-view"
ORDER_SIGN = "neurotransmitter-order-sign"
PACKAGES = ("fastapi", "starlette", "uvicorn", "pydantic", "orjson", "httptools", "uvloop")


def machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_kb / 1024 / 1024,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: metadata.version(name) for name in PACKAGES},
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def largest_synthea(count: int) -> list[Path]:
    files = sorted(SYNTHEA.glob("*.json"), key=lambda p: p.stat().st_size, reverse=True)
    return files[:count]


def run_inprocess(
    kb: KnowledgeBase, registry: ServiceRegistry, sizes: list[int], synthea: int, budget: float
) -> list[dict[str, Any]]:
    settings = Settings(auth="off")
    now = reference_now()
    freeze_startup_heap()  # as each worker does at start (app.py)
    cases: list[tuple[str, str, bytes, int | None]] = []
    for size in sizes:
        for service_id in (PATIENT_VIEW, ORDER_SIGN):
            service = registry.services[service_id]
            raw = synthetic_request(kb, service, size, now=now)
            cases.append((f"synthetic {size:,} Obs", service_id, raw, size))
    if 1000 in sizes:
        # Every Observation one a measure reads, as our code-filtered query returns them: the
        # case lean_json's sample sends to orjson (not a target row: observations=None).
        service = registry.services[PATIENT_VIEW]
        raw = synthetic_request(kb, service, 1000, now=now, relevant_share=1.0)
        cases.append(("synthetic 1,000 Obs, all read", PATIENT_VIEW, raw, None))
    for number, path in enumerate(largest_synthea(synthea)):
        bundle = orjson.loads(path.read_bytes())
        name = path.stem.split("_")[0] + " " + path.stem.split("_")[1]
        for service_id in (PATIENT_VIEW, ORDER_SIGN):
            raw = synthea_request(kb, registry.services[service_id], bundle)
            cases.append((f"Synthea {name}", service_id, raw, None))
        if number == 0:
            raw = synthea_request(kb, registry.services[PATIENT_VIEW], bundle, whole=True)
            cases.append((f"Synthea {name}, whole bundle", PATIENT_VIEW, raw, None))
    results = []
    for label, service_id, raw, size in cases:
        result = inprocess.measure(
            label,
            raw,
            registry.services[service_id],
            kb,
            settings,
            now,
            observations=size,
            budget_seconds=budget,
        )
        row = asdict(result)
        row["ratio"] = result.ratio
        results.append(row)
        print(
            f"  {label:<34} {result.hook:<13} {result.median_ms:8.2f} ms "
            f"(floor {result.floor_median_ms:7.2f} ms, {result.ratio:.2f}x)",
            flush=True,
        )
    return results


def service_env(folder: Path) -> dict[str, str]:
    """Production defaults, except auth off (the load generator signs no JWTs)."""
    return {
        "CDS_AUTH": "off",
        "CDS_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'cds-service.db'}",
        "CDS_AUDIT_KEY": secrets.token_hex(32),
    }


def run_http(
    folder: Path,
    bodies: dict[int, Path],
    *,
    workers_list: list[int],
    concurrencies: list[int],
    duration: float,
    requests: int,
) -> list[dict[str, Any]]:
    path = f"/cds-services/{PATIENT_VIEW}"
    rows = []
    for workers in workers_list:
        with (
            run_server("service", workers, folder, service_env(folder)) as service,
            run_server("floor", workers, folder) as floor,
        ):
            for server in (service, floor):
                http_load.warm_up(server, path, list(bodies.values()))
            for size, body in bodies.items():
                for concurrency in concurrencies:
                    row: dict[str, Any] = {
                        "workers": workers,
                        "observations": size,
                        "concurrency": concurrency,
                    }
                    for name, server in (("service", service), ("floor", floor)):
                        row[name] = http_load.load(
                            server,
                            path,
                            [body],
                            concurrency=concurrency,
                            duration=duration,
                            requests=requests,
                        )
                    rows.append(row)
                    s, f = row["service"], row["floor"]
                    print(
                        f"  {workers}w {size:>5} Obs c={concurrency:<3} service {s['rps']:7.0f} req/s "
                        f"p95 {s['p95_ms']:6.1f} ms err {s['errors']} | floor {f['rps']:7.0f} req/s "
                        f"p95 {f['p95_ms']:6.1f} ms | {s['rps'] / f['rps']:.0%}",
                        flush=True,
                    )
    return rows


def run_memory(
    folder: Path, bodies: list[Path], mix: str, *, workers: int, total: int, steps: int
) -> dict[str, Any]:
    path = f"/cds-services/{PATIENT_VIEW}"
    with run_server("service", workers, folder, service_env(folder)) as service:
        http_load.warm_up(service, path, bodies)
        result = http_load.memory_growth(service, path, bodies, total=total, steps=steps)
    result.update(workers=workers, mix=mix)
    for sample in result["samples"]:
        print(
            f"  after {sample['requests']:>6} requests: "
            + ", ".join(
                f"{w['rss_mb']:.1f} MB (peak {w['peak_rss_mb']:.1f})" for w in sample["workers"]
            ),
            flush=True,
        )
    return result


def run_fallback(
    folder: Path, kb: KnowledgeBase, registry: ServiceRegistry, *, runs: int
) -> dict[str, Any]:
    sys.path.insert(0, str(PROJECT_ROOT))
    from tests.servers import FhirServer  # the project's local FHIR server, over real HTTP

    service = registry.services[PATIENT_VIEW]
    builder = _Patient(kb, SEED, reference_now())
    resources = [
        builder.patient(),
        *builder.observations(100),
        *builder.medication_requests(20),
        *builder.conditions(20),
    ]
    with FhirServer() as fhir:
        fhir.state.delay = 0.05
        fhir.state.page_size = 1000  # one page per key: the point is parallelism across keys
        fhir.state.add(*resources)
        full = prefetch_for(service, resources)
        patient_only = {
            k: v for k, v in full.items() if service.prefetch[k].query.startswith("Patient/")
        }
        observations_key = next(
            k for k, s in service.prefetch.items() if s.query.startswith("Observation?")
        )
        all_but_one = {k: v for k, v in full.items() if k != observations_key}
        missing_all = orjson.dumps(
            hook_request(service, PATIENT_ID, patient_only, seed=SEED, fhir_server=fhir.base())
        )
        missing_one = orjson.dumps(
            hook_request(service, PATIENT_ID, all_but_one, seed=SEED, fhir_server=fhir.base())
        )
        with run_server("service", 1, folder, service_env(folder)) as server:
            fhir.state.max_in_flight = 0
            result = http_load.fallback(
                server.base_url,
                f"/cds-services/{PATIENT_VIEW}",
                missing_all,
                missing_one,
                runs=runs,
            )
            result["max_in_flight"] = fhir.state.max_in_flight
            result["keys_fetched"] = len(full) - len(patient_only)
    print(
        f"  {result['keys_fetched']} keys fetched: median {result['five_median_ms']:.1f} ms; "
        f"1 key: {result['one_median_ms']:.1f} ms; max in flight {result['max_in_flight']}",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the benchmarks of issue 7.")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the harness")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=PROJECT_ROOT / "benchmarks" / "results.json")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the 1-minute load average to fall below 0.3",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["inprocess", "http", "memory", "fallback"]
    )
    args = parser.parse_args(argv)

    kb = load_knowledge(PROJECT_ROOT / "mappings")
    registry = load_services(PROJECT_ROOT / "hooks", kb)
    quick = args.quick
    results: dict[str, Any] = {
        "machine": machine(),
        "command": "make bench" if not quick else "python -m benchmarks.run --quick",
        "service_config": (
            "`cds-service serve` (uvicorn, uvloop + httptools) with production defaults "
            "(`CDS_LOG_LEVEL=INFO`: the service's JSON access log, one line per call, to a file; "
            "metrics on; `CDS_VALIDATE_RESPONSES=false`; SQLite audit database in a temporary "
            "directory) except `CDS_AUTH=off`: the load generator signs no JWTs "
            "(`benchmarks/auth_verify.py` measures verification alone). The floor app runs "
            "under uvicorn with the same host, workers and log level (uvicorn's own access log, "
            "one line per call)."
        ),
    }
    deadline = time.monotonic() + args.wait_idle
    while os.getloadavg()[0] >= 0.3 and time.monotonic() < deadline:
        time.sleep(5)
    results["load_average_start"] = os.getloadavg()
    if results["load_average_start"][0] >= 0.5:
        print(f"warning: the machine is busy (load {results['load_average_start'][0]:.2f})")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cds-bench-") as tmp:
        folder = Path(tmp)
        if "inprocess" not in args.skip:
            print("in-process", flush=True)
            results["inprocess"] = run_inprocess(
                kb,
                registry,
                [10, 100] if quick else [10, 100, 1000, 5000],
                0 if quick else 2,
                0.2 if quick else 3.0,
            )
            gc.collect()
        service = registry.services[PATIENT_VIEW]
        sizes = [10] if quick else [100, 1000]
        bodies: dict[int, Path] = {}
        for size in sizes:
            bodies[size] = folder / f"patient-view-{size}.json"
            bodies[size].write_bytes(synthetic_request(kb, service, size))
        if "http" not in args.skip:
            print("HTTP", flush=True)
            params = {"duration": 2.0 if quick else 10.0, "requests": 200 if quick else 20_000}
            results["http_params"] = params
            results["http"] = run_http(
                folder,
                bodies,
                workers_list=[1] if quick else [1, 2],
                concurrencies=[1, 8] if quick else [1, 8, 32],
                **params,
            )
        if "memory" not in args.skip:
            print("memory", flush=True)
            mix = list(bodies.values())
            results["memory"] = run_memory(
                folder,
                mix,
                " → ".join(f"patient-view {s:,} Obs" for s in bodies),
                workers=1 if quick else 2,
                total=200 if quick else 10_000,
                steps=2 if quick else 10,
            )
        if "fallback" not in args.skip:
            print("FHIR fallback", flush=True)
            results["fallback"] = run_fallback(folder, kb, registry, runs=5 if quick else 30)
    results["seconds"] = time.perf_counter() - started
    results["load_average_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report.write(args.output, results)
    print(f"done in {results['seconds']:.0f} s: {args.output} and {args.json}")
    for name, value, ok in report.targets(results):
        print(f"  {'ok  ' if ok else 'MISS'} {name}: {value}")


if __name__ == "__main__":
    main()
