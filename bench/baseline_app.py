"""The textbook pattern tasklane is measured against: a sync FastAPI route calling Celery's
`send_task`, `AsyncResult` for status, Celery's default settings. One uvicorn process.

Run: `uvicorn bench.baseline_app:app` (API) and
`celery -A bench.baseline_app:celery_app worker` (worker), both with BASELINE_REDIS_URL set."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from fastapi import FastAPI

REDIS_URL = os.environ.get("BASELINE_REDIS_URL", "redis://127.0.0.1:6379/0")

celery_app = Celery("baseline", broker=REDIS_URL, backend=REDIS_URL)
app = FastAPI()


@celery_app.task(name="text.process")  # type: ignore[untyped-decorator]
def process_text(data: str) -> dict[str, str]:
    return {"processed_data": data.upper()}


@app.post("/v1/tasks/text.process", status_code=202)
def submit(body: dict[str, Any]) -> dict[str, str]:
    result = process_text.delay(**body)
    return {"id": result.id}


@app.get("/v1/tasks/{task_id}")
def status(task_id: str) -> dict[str, Any]:
    result = AsyncResult(task_id, app=celery_app)
    return {"id": task_id, "status": result.state, "result": result.result}
