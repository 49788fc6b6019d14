"""A task that saves files and has CSV rows, for the tests of downloads (client, CLI,
dashboard). Its settings come from the environment (JOBWIRE_DATABASE_URL…)."""

from __future__ import annotations

from typing import Any

from jobwire import App, Progress

app = App()

#: Names of the files ``report`` saves, besides ``big.bin`` when asked for.
NAMES = ("summary.txt", "보고서 1.csv")


def big_bytes(size: int) -> bytes:
    """``size`` bytes that are the same on every call (the tests compare them)."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def register(target: App) -> None:
    @target.task(name="report", export_rows=lambda result: result["rows"])
    def report(progress: Progress, rows: int = 3, big: int = 0) -> dict[str, Any]:
        """Saves a text file, a CSV with a Korean name and, when big is over 0, a file of
        that many bytes; its result has as many rows as asked (the CSV export)."""
        items = [{"name": f"item {i}", "value": i} for i in range(rows)]
        progress.save_file(NAMES[0], f"{rows} rows\n".encode())
        lines = "".join(f"{r['name']},{r['value']}\n" for r in items)
        progress.save_file(NAMES[1], ("name,value\n" + lines).encode(), "text/csv")
        if big:
            progress.save_file("big.bin", big_bytes(big), "application/octet-stream")
        return {"rows": items}

    @target.task(name="note")
    def note(progress: Progress, text: str = "done") -> dict[str, str]:
        """Saves no file, and its result has no rows: no CSV."""
        return {"note": text}


register(app)
