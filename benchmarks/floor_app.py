"""The floor: the cheapest FastAPI endpoint that still does what every hook call must do.

It reads the body, parses it with orjson and answers ``{"cards": []}``, on the same route
shape as the service. Served by the same uvicorn with the same options, its throughput is
the ceiling our service is compared against.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()
EMPTY = orjson.dumps({"cards": []})


@app.post("/cds-services/{service_id}")
async def call_service(service_id: str, request: Request) -> Response:
    body = orjson.loads(await request.body())
    if not isinstance(body, dict):
        return Response(status_code=400)
    return Response(EMPTY, media_type="application/json")


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
