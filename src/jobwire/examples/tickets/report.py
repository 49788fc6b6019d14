"""The figures shown after a run: counts per category and channel, and how often the engine
agreed with the agents' labels (overall, per category as precision and recall, per channel,
per language, and the most common confusions)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .engines import Prediction
from .generator import CATEGORIES, CHANNELS, LANGUAGES, Ticket


def ratio(part: int, whole: int) -> float | None:
    """``part / whole`` to three decimals; None when there is nothing to divide."""
    return round(part / whole, 3) if whole else None


def summarise(tickets: Sequence[Ticket], predicted: Sequence[Prediction]) -> dict[str, Any]:
    """Everything but the per-ticket rows, as JSON-ready values."""
    truth = Counter(t.category for t in tickets)
    guessed = Counter(p.category for p in predicted)
    hits = Counter(
        t.category for t, p in zip(tickets, predicted, strict=True) if t.category == p.category
    )
    correct = sum(hits.values())
    total = len(tickets)
    return {
        "reliability": {
            "accuracy": ratio(correct, total),
            "correct": correct,
            "total": total,
            "mean_confidence": round(sum(p.confidence for p in predicted) / total, 3)
            if total
            else None,
        },
        "categories": [
            {
                "category": category,
                "predicted": guessed[category],
                "actual": truth[category],
                "correct": hits[category],
                "precision": ratio(hits[category], guessed[category]),
                "recall": ratio(hits[category], truth[category]),
            }
            for category in CATEGORIES
        ],
        "channels": _groups("channel", CHANNELS, tickets, predicted),
        "languages": _groups("lang", LANGUAGES, tickets, predicted),
        "confusions": [
            {"truth": t, "predicted": p, "count": n}
            for (t, p), n in Counter(
                (t.category, p.category)
                for t, p in zip(tickets, predicted, strict=True)
                if t.category != p.category
            ).most_common(5)
        ],
    }


def _groups(
    field: str, names: Sequence[str], tickets: Sequence[Ticket], predicted: Sequence[Prediction]
) -> list[dict[str, Any]]:
    """Per value of ``field``: tickets, the categories predicted, the top one, accuracy."""
    rows = []
    for name in names:
        pairs = [
            (t, p) for t, p in zip(tickets, predicted, strict=True) if getattr(t, field) == name
        ]
        categories = Counter(p.category for _, p in pairs)
        correct = sum(t.category == p.category for t, p in pairs)
        rows.append(
            {
                field: name,
                "tickets": len(pairs),
                "correct": correct,
                "accuracy": ratio(correct, len(pairs)),
                "top_category": categories.most_common(1)[0][0] if categories else None,
                "categories": {c: categories[c] for c in CATEGORIES},
            }
        )
    return rows
