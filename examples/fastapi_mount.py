"""jobwire mounted inside your own FastAPI app.

    uvicorn examples.fastapi_mount:api

Your routes stay yours; jobwire's API, streams and JS client live under /jobs.
"""

from __future__ import annotations

import time

from fastapi import FastAPI

from jobwire import App, Progress
from jobwire.server import create_app, lifespan

jobs = App("sqlite:///fastapi_example.db")


@jobs.task(name="resize", steps=("loading", "resizing"))
def resize(progress: Progress, images: int = 40) -> dict[str, int]:
    """Pretend-resize a batch of images."""
    progress.step("loading")
    for _ in progress.iter(range(images), step="resizing"):
        time.sleep(0.05)
    return {"resized": images}


jobs_api = create_app(jobs)
api = FastAPI(title="My app", lifespan=lifespan(jobs_api))  # starts jobwire's workers
api.mount("/jobs", jobs_api)  # REST at /jobs/api/…, streams at /jobs/ws/…


@api.get("/")
def home() -> dict[str, str]:
    return {"hello": "world", "jobs": "/jobs/api/tasks"}


@api.post("/albums/{album}/resize")
def start_resize(album: str) -> dict[str, str]:
    """Your own endpoint submitting a job and answering with where to watch it."""
    job = resize.configure(owner="local").submit(images=40)
    return {"job": job.id, "watch": f"/jobs/ws/jobs/{job.id}"}
