"""Support-ticket auto-classification: the example this package was designed from.

``tickets.classify(file_id, engine)`` sorts a file of generated Korean and English support
tickets into six categories with keyword rules (``rule``) or a trained model (``ai``),
reporting each ticket as it goes; ``/examples/tickets`` is its page, a live bar and the
results, written with ``/static/jobwire.js``. Run it with ``jobwire serve --examples``.

```python
from jobwire import App
from jobwire.examples import tickets

app = App()
tickets.register(app)
with app:
    job = app.submit("tickets.classify", {"file_id": "sample-2000", "engine": "ai"})
    print(job.result()["reliability"])
```
"""

from __future__ import annotations

from .task import STEPS, classify, register

__all__ = ["STEPS", "classify", "register"]
