"""The two classifiers: keyword rules, and a model trained on the shipped labelled tickets.

Both take a ticket's text and return a :class:`Prediction`. ``rule`` needs nothing; ``ai``
needs scikit-learn (``pip install 'jobwire[examples]'``), trains once per process in about
a second and is then shared by every job.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from ...errors import MissingDependency
from .generator import load_training

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

EngineName = Literal["rule", "ai"]


class Prediction(NamedTuple):
    category: str
    confidence: float
    """How sure the engine is, 0 to 1: the winning share of keyword hits (rule) or the
    model's probability (ai)."""


class Engine(Protocol):
    name: str
    description: str
    batch_size: int

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]: ...


def predictions(engine: Engine, texts: Sequence[str]) -> Iterator[Prediction]:
    """One prediction per text, in order, computed ``engine.batch_size`` texts at a time
    when asked for: a loop that pulls them never counts a ticket before it is classified."""
    size = engine.batch_size
    for start in range(0, len(texts), size):
        yield from engine.predict_many(texts[start : start + size])


# -- keyword rules ---------------------------------------------------------------------

#: What a support lead would write down on day one: a few obvious words per category, in
#: Korean and English, matched as lower-case fragments. A hit in the subject counts twice;
#: ties go to the category listed first; no hit at all means ``other``.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "product_defect": ("불량", "고장", "파손", "작동", "defect", "broken", "damaged", "faulty"),
    "refund": ("환불", "반품", "취소", "refund", "return", "cancel"),
    "account": ("로그인", "비밀번호", "계정", "회원", "login", "log in", "password", "account"),
    "payment": ("결제", "카드", "입금", "payment", "card", "charged", "paid"),
    "delivery": ("배송", "택배", "도착", "delivery", "delivered", "shipping", "tracking"),
    "other": ("문의", "추천", "이벤트", "question", "recommend", "thank"),
}


@dataclass
class RuleEngine:
    """Counts keyword hits per category; the most hits wins, no hit means ``other``."""

    name: str = "rule"
    description: str = "keyword rules (Korean and English)"
    batch_size: int = 1

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        return [self.predict(text) for text in texts]

    def predict(self, text: str) -> Prediction:
        subject, _, body = text.lower().partition("\n")
        scores = {
            category: sum(2 * (word in subject) + (word in body) for word in words)
            for category, words in KEYWORDS.items()
        }
        best = max(scores, key=lambda c: scores[c])  # first of the ties, in KEYWORDS order
        hits = sum(scores.values())
        if not scores[best]:
            return Prediction("other", 0.2)
        return Prediction(best, round(scores[best] / hits, 3))


# -- the trained model -----------------------------------------------------------------


class ModelEngine:
    """TF-IDF over character n-grams (robust to Korean particles, spacing and typos) and a
    linear classifier (logistic loss, fitted by SGD), trained on ``data/train.jsonl``."""

    name = "ai"
    #: Tickets per call: one call per ticket costs more in scikit-learn's checks than in
    #: the model, and 64 is still a small fraction of a second.
    batch_size = 64

    def __init__(self, pipeline: Any, trained_on: int, train_seconds: float) -> None:
        self.pipeline = pipeline
        self.trained_on = trained_on
        self.train_seconds = train_seconds
        self.classes: list[str] = [str(c) for c in pipeline.classes_]
        self.description = (
            f"TF-IDF char n-grams + logistic regression (SGD), trained on {trained_on:,} "
            "labelled tickets"
        )

    @classmethod
    def train(cls, pairs: Sequence[tuple[str, str]]) -> ModelEngine:
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import SGDClassifier
            from sklearn.pipeline import make_pipeline
        except ImportError:
            raise MissingDependency(
                "The 'ai' engine needs scikit-learn: pip install 'jobwire[examples]'"
            ) from None
        started = time.perf_counter()
        pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=2),
            SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=50, tol=None, random_state=0),
        )
        pipeline.fit([text.lower() for text, _ in pairs], [label for _, label in pairs])
        return cls(pipeline, len(pairs), time.perf_counter() - started)

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        probabilities = self.pipeline.predict_proba([t.lower() for t in texts])
        results = []
        for row in probabilities:
            best = int(row.argmax())
            results.append(Prediction(self.classes[best], round(float(row[best]), 3)))
        return results


class Models:
    """Trains the model once per process, on first use, however many threads ask at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: ModelEngine | None = None

    @property
    def ready(self) -> bool:
        return self._model is not None

    def get(self) -> ModelEngine:
        with self._lock:
            if self._model is None:
                self._model = ModelEngine.train(load_training())
            return self._model


#: The process's trained model: a cache of a pure function of the shipped data, not state
#: that differs between apps.
MODELS = Models()
RULES = RuleEngine()


def get_engine(name: EngineName) -> Engine:
    """The engine called ``name`` (``"rule"`` or ``"ai"``), trained if needed."""
    if name == "rule":
        return RULES
    if name == "ai":
        return MODELS.get()
    raise ValueError(f"Expected engine 'rule' or 'ai', but got {name!r}")
