"""A task with timed steps and a wait, for the tests of time per step (dashboard). Its
settings come from the environment (JOBWIRE_DATABASE_URL…)."""

from __future__ import annotations

import time
from typing import Any

from jobwire import App, Progress

app = App()

STEPS = ("submit", "dreaming", "download")


def register(target: App) -> None:
    @target.task(name="dream", steps=STEPS)
    def dream(progress: Progress) -> Any:
        """Submits (1.2 s), waits for its webhook while "dreaming", downloads (1.2 s)."""
        progress.step("submit")
        progress.once("submit", lambda: time.sleep(1.2))
        got = progress.wait_for_callback(timeout=600, step="dreaming")
        progress.step("download")
        time.sleep(1.2)
        return got


register(app)
