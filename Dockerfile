# syntax=docker/dockerfile:1
# The CDS Hooks service as a container: `docker build -t cds-service .`
# Settings are CDS_* environment variables (docs/operations.md); the defaults below suit a
# container. Production must mount its own trusted-clients file (CDS_TRUSTED_CLIENTS): the
# shipped one trusts the public CDS Hooks sandbox, whose private key is public.

# --- build: install the service and its dependencies into a virtual environment -------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cds_service ./cds_service
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install .

# --- runtime: the environment, the service's data files, a non-root user --------------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CDS_HOST=0.0.0.0 \
    CDS_PORT=8080 \
    CDS_WORKERS=2 \
    CDS_HOOKS_DIR=/app/hooks \
    CDS_MAPPINGS_DIR=/app/mappings \
    CDS_EXAMPLES_DIR=/app/examples \
    CDS_TRUSTED_CLIENTS=/app/trusted/clients.yaml \
    CDS_DATABASE_URL=sqlite+aiosqlite:////data/cds-service.db
RUN useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin cds \
 && mkdir /data \
 && chown cds /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY hooks ./hooks
COPY mappings ./mappings
COPY trusted ./trusted
COPY examples ./examples
USER 10001
EXPOSE 8080
# SQLite's file lives here when CDS_DATABASE_URL is left as is; use PostgreSQL for replicas.
VOLUME ["/data"]
# Liveness only: /readyz (database, knowledge) is for the load balancer, not for restarts.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CDS_PORT', '8080'), timeout=3)" || exit 1
# Workers from CDS_WORKERS; metrics are summed across them (see docs/operations.md).
CMD ["cds-service", "serve"]
