"""``cds-service serve``: uvicorn with JSON logs, and metrics shared between worker processes.

This module must not import prometheus_client (nor anything that does): the client picks its
single- or multi-process mode when first imported, so ``PROMETHEUS_MULTIPROC_DIR`` has to be
in the environment before that, here, before uvicorn starts the workers.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_dir(workers: int) -> Path | None:
    """Set up prometheus_client's multiprocess directory when several workers will run.

    An operator's ``PROMETHEUS_MULTIPROC_DIR`` is used as given and emptied of the previous
    run's files (stale files would add old counts). Without one, several workers get a private
    temporary directory, removed at exit. One worker needs none.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return directory
    if workers <= 1:
        return None
    directory = Path(tempfile.mkdtemp(prefix="cds-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def serve(host: str, port: int, workers: int, reload: bool, log_level: str) -> None:
    import uvicorn

    from cds_service.observability.logs import log_config

    prepare_metrics_dir(1 if reload else workers)
    uvicorn.run(
        "cds_service.asgi:app",
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        log_config=log_config(log_level),
        log_level=log_level.lower(),
        # cds_service.access writes one JSON line per request; uvicorn's would repeat it.
        access_log=False,
        proxy_headers=True,
    )
