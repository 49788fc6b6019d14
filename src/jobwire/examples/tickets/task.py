"""The task ``tickets.classify``: classify a file of support tickets, live.

It goes through four steps, as the page shows them:

- ``init``: generate the file's tickets and, for the ``ai`` engine, train the model (once
  per process);
- ``processing``: classify every ticket, counting each one as it is done;
- ``aggregating``: counts per category and channel, agreement with the agents' labels;
- ``saving``: the per-ticket predictions and the figures become the job's result.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field

from ...progress import Progress
from .engines import MODELS, EngineName, ModelEngine, Prediction, get_engine, predictions
from .generator import FILE_ID_PATTERN, FILE_IDS, load, ticket_count
from .report import summarise

if TYPE_CHECKING:
    from ...app import App

STEPS = ("init", "processing", "aggregating", "saving")
PAGE = Path(__file__).resolve().parent / "page.html"
PREVIEW = 20
"""Tickets shown with their subject on the page."""


def _known_file(file_id: str) -> str:
    ticket_count(file_id)  # raises UnknownFile, a ValueError: pydantic reports it
    return file_id


FileId = Annotated[
    str,
    Field(
        description="sample-N: N generated tickets, N from 500 to 20000",
        examples=list(FILE_IDS),
        # Checked by _known_file, whose message says what is expected.
        json_schema_extra={"pattern": FILE_ID_PATTERN},
    ),
    AfterValidator(_known_file),
]


def classify(progress: Progress, file_id: FileId, engine: EngineName = "rule") -> dict[str, Any]:
    """Classify a file of support tickets (rule or ai engine); score it against agents' labels."""
    started = time.perf_counter()
    progress.step("init", message=f"loading {file_id}")
    tickets = load(file_id)
    if engine == "ai" and not MODELS.ready:
        progress.update(message="training the model (once per process)")
    model = get_engine(engine)

    predicted: list[Prediction] = []
    counts: Counter[str] = Counter()
    stream = predictions(model, [t.text for t in tickets])
    for ticket, prediction in zip(progress.iter(tickets, step="processing"), stream, strict=True):
        predicted.append(prediction)
        counts[prediction.category] += 1
        progress.message = f"{ticket.id} → {prediction.category}"

    progress.step("aggregating", message="per category, per channel, agreement with agents")
    summary = summarise(tickets, predicted)

    progress.step("saving", message=f"{len(predicted):,} predictions")
    rows = [
        {
            "id": t.id,
            "channel": t.channel,
            "category": p.category,
            "truth": t.category,
            "confidence": p.confidence,
        }
        for t, p in zip(tickets, predicted, strict=True)
    ]
    preview = [
        {**row, "lang": t.lang, "subject": t.subject}
        for row, t in zip(rows[:PREVIEW], tickets, strict=False)
    ]
    return {
        "file_id": file_id,
        "engine": engine,
        "engine_description": model.description,
        "model": {"trained_on": model.trained_on, "train_seconds": round(model.train_seconds, 3)}
        if isinstance(model, ModelEngine)
        else None,
        "total": len(tickets),
        "counts": dict(counts),
        **summary,
        "seconds": round(time.perf_counter() - started, 3),
        "preview": preview,
        "tickets": rows,
    }


def register(app: App) -> dict[str, Path]:
    """Register ``tickets.classify`` on ``app`` (one run per owner at a time); return its
    page, ``{"/examples/tickets": page.html}``."""
    app.task(name="tickets.classify", per_owner_limit=1, steps=STEPS)(classify)
    return {"/examples/tickets": PAGE}
