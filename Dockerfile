# Minimal image; the operations work hardens it (multi-stage, healthcheck) later.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cds_service ./cds_service
COPY hooks ./hooks
COPY mappings ./mappings
COPY trusted ./trusted
RUN pip install --no-cache-dir -e . && useradd --create-home --uid 10001 cds
USER cds
ENV CDS_HOST=0.0.0.0 CDS_PORT=8080
EXPOSE 8080
CMD ["cds-service", "serve"]
