"""jobwire beside a Flask app, in one server process.

    uvicorn examples.flask_beside:asgi

Flask keeps serving its pages at /; jobwire's API, streams (WebSocket and SSE, which a WSGI
server cannot hold open cheaply) and JS client are served at /jobwire by the same ASGI
server. Flask views submit jobs with the Python API.
"""

from __future__ import annotations

import time

from a2wsgi import WSGIMiddleware
from flask import Flask, jsonify
from starlette.applications import Starlette
from starlette.routing import Mount

from jobwire import App, Progress
from jobwire.server import create_app, lifespan

jobs = App("sqlite:///flask_example.db")


@jobs.task(name="report", steps=("collecting", "rendering"))
def report(progress: Progress, rows: int = 50) -> dict[str, int]:
    progress.step("collecting")
    for _ in progress.iter(range(rows), step="rendering"):
        time.sleep(0.02)
    return {"rows": rows}


flask_app = Flask(__name__)


@flask_app.post("/reports")
def start_report():  # type: ignore[no-untyped-def]
    job = report.configure(owner="local").submit(rows=50)
    return jsonify(job=job.id, events=f"/jobwire/api/jobs/{job.id}/events"), 202


@flask_app.get("/")
def index() -> str:
    return (
        "<!doctype html><title>Reports</title>"
        '<script type="module" src="/jobwire/static/jobwire.js"></script>'
        "<button id=go>Make a report</button><div id=bar></div>"
        "<script type=module>"
        "document.getElementById('go').onclick = async () => {"
        "  const r = await fetch('/reports', {method: 'POST'}).then(r => r.json());"
        "  const el = document.createElement('jobwire-progress');"
        "  el.setAttribute('base-url', '/jobwire'); el.setAttribute('job-id', r.job);"
        "  document.getElementById('bar').replaceChildren(el);"
        "};</script>"
    )


jobs_api = create_app(jobs)
asgi = Starlette(
    routes=[
        Mount("/jobwire", app=jobs_api),
        Mount("/", app=WSGIMiddleware(flask_app)),  # type: ignore[arg-type]
    ],
    lifespan=lifespan(jobs_api),  # starts jobwire's workers with the server
)
