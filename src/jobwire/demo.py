"""The built-in example behind ``jobwire demo``: a task that visibly moves through steps.

It fingerprints a batch of generated documents (PBKDF2, real CPU work, no sleeps), counts
their words, then aggregates and "saves" a summary.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter

from .app import App
from .progress import Progress

WORDS = [
    "delivery", "refund", "payment", "account", "login", "order", "parcel", "invoice",
    "card", "broken", "late", "address", "coupon", "password", "screen", "battery",
    "charge", "exchange", "tracking", "support",
]  # fmt: skip


def documents(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))) for _ in range(count)]


def register(app: App) -> None:
    @app.task(
        name="demo.analyse",
        steps=("init", "processing", "aggregating", "saving"),
        export_rows=lambda result: result["top_words"],  # the CSV export: word, count
    )
    def analyse(
        progress: Progress, documents_count: int = 200, work: int = 40_000
    ) -> dict[str, object]:
        """Fingerprint and count words in generated documents."""
        progress.step("init", message="generating documents")
        docs = documents(documents_count)
        counts: Counter[str] = Counter()
        fingerprints: list[str] = []
        for doc in progress.iter(docs, step="processing"):
            counts.update(doc.split())
            digest = hashlib.pbkdf2_hmac("sha256", doc.encode(), b"jobwire", work)
            fingerprints.append(digest.hex()[:12])
            progress.message = f"fingerprint {fingerprints[-1]}"
        progress.step("aggregating", total=len(counts), message="ranking words")
        ranked = []
        for word, n in progress.iter(counts.most_common()):
            ranked.append({"word": word, "count": n})
        progress.step("saving", message="writing summary")
        return {
            "documents": len(docs),
            "distinct_words": len(counts),
            "top_words": ranked[:5],
            "first_fingerprint": fingerprints[0] if fingerprints else None,
        }
