"""A streamed ZIP export of a job's files next to a plain Starlette ``FileResponse``: MB/s
and the server's peak RSS growth while each downloads.

Run it from the repository root::

    python bench/files.py                      # 200 MB in 8 files, 3 rounds; about 1-2 min
    python bench/files.py --mb 50 --rounds 1   # quicker
    python bench/files.py --kind text          # compressible text, deflated in the ZIP

Setup, in this process: ``--files`` source files of random bytes (``--mb`` in all) on disk,
and a job of the task ``bench.files`` that saves each with ``progress.save_file()`` into a
fresh SQLite database (the default file storage, the database; ``--files-url`` for another),
run to success by an App here. Then the server, in its own process so that setup leaves
nothing in its memory: ``create_app(App(that database), workers=False)`` under uvicorn, plus
one route ``GET /bench/floor``, a bare Starlette ``FileResponse`` of one file holding the same
bytes, in the same process: the floor.

Each round downloads, in turn, ``GET /api/jobs/{id}/export?format=zip`` (``zip``) and
``GET /bench/floor`` (``floor``) with httpx, reading 1 MiB at a time and dropping the bytes.
Before each download the server's peak RSS is reset (Linux: 5 to ``/proc/PID/clear_refs``);
after it, *peak growth* = the kernel's high-water mark (``VmHWM``) - RSS just before. Every
round counts, the first one included (one-time imports and buffers are part of the cost).
MB/s = bytes / wall seconds on the client (MB = 10^6 bytes).

``--kind png`` (default): the files are ``frame-NNN.png`` (``image/png``), which the ZIP
stores as they are; ``--kind text``: ``part-NNN.txt``, deflated (level 6).

Target: the ZIP's peak RSS growth under 50 MB in every round. After the rounds the ZIP is
downloaded once more to a file and checked with ``zipfile`` (names, sizes, CRCs; skip with
``--no-verify``). Results go to ``bench/results/files.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
from common import busy_warning, environment, progress_bar, write_result
from rich.console import Console
from rich.table import Table
from serving import MB, Memory, server, verdict

from jobwire import App, Progress

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_GROWTH_MB = 50.0
READ = 1 << 20
KINDS = {"png": ("frame-{:03}.png", "image/png"), "text": ("part-{:03}.txt", "text/plain")}
WORDS = b"delivery refund payment account login order parcel invoice card broken late ".split()


# -- the server (`python bench/files.py _serve --db URL --floor PATH --port P`) ----------


def serve(argv: list[str]) -> None:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import FileResponse
    from starlette.routing import Route

    from jobwire.server import create_app

    parser = argparse.ArgumentParser(prog="files.py _serve")
    parser.add_argument("--db", required=True)
    parser.add_argument("--floor", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    api = create_app(App(args.db), workers=False, dashboard=False)

    async def floor(request: Request) -> FileResponse:
        return FileResponse(args.floor, media_type="application/octet-stream")

    api.router.routes.insert(0, Route("/bench/floor", floor))
    uvicorn.run(api, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


# -- setup -------------------------------------------------------------------------------


def make_sources(workdir: Path, count: int, total: int, kind: str) -> tuple[list[Path], Path]:
    """``count`` files of ``total`` bytes in all, and one file holding all their bytes."""
    rng = random.Random(11)
    size = total // count
    pattern, _ = KINDS[kind]
    paths = []
    floor = workdir / "floor.bin"
    with floor.open("wb") as whole:
        for i in range(count):
            path = workdir / "src" / pattern.format(i + 1)
            path.parent.mkdir(exist_ok=True)
            with path.open("wb") as out:
                left = size
                while left:
                    n = min(left, READ)
                    if kind == "png":
                        chunk = rng.randbytes(n)
                    else:
                        chunk = b" ".join(rng.choices(WORDS, k=n // 6 + 1))[:n]
                    out.write(chunk)
                    whole.write(chunk)
                    left -= n
            paths.append(path)
    return paths, floor


def make_job(db: str, paths: list[Path], kind: str) -> str:
    """A succeeded job that saved ``paths`` (run by an App in this process)."""
    content_type = KINDS[kind][1]
    app = App(db, workers=1)

    @app.task(name="bench.files")
    def save(progress: Progress, files: list[str]) -> dict[str, int]:
        for path in progress.iter(files, step="saving"):
            progress.save_file(Path(path).name, Path(path), content_type=content_type)
        return {"files": len(files)}

    with app:
        job = app.submit("bench.files", {"files": [str(p) for p in paths]})
        app.result(job.id, timeout=900)
    app.close()
    return job.id


# -- measuring ---------------------------------------------------------------------------


def download(client: httpx.Client, url: str, memory: Memory, tick: Any) -> dict[str, Any]:
    before = memory.rss()
    memory.reset()
    size = 0
    start = time.perf_counter()
    with client.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(READ):
            size += len(chunk)
            memory.sample()
            tick(len(chunk))
    seconds = time.perf_counter() - start
    peak = memory.peak()
    return {
        "bytes": size,
        "seconds": seconds,
        "mb_s": size / MB / seconds,
        "rss_before_mb": before / MB,
        "peak_growth_mb": (peak - before) / MB,
        "peak_exact": memory.exact,
    }


def verify(client: httpx.Client, url: str, paths: list[Path], workdir: Path) -> dict[str, Any]:
    out = workdir / "check.zip"
    with client.stream("GET", url) as response, out.open("wb") as f:
        response.raise_for_status()
        for chunk in response.iter_raw(READ):
            f.write(chunk)
    with zipfile.ZipFile(out) as archive:
        bad = archive.testzip()
        sizes = {i.filename.rsplit("/", 1)[-1]: i.file_size for i in archive.infolist()}
    missing = [p.name for p in paths if sizes.get(p.name) != p.stat().st_size]
    out.unlink()
    return {"ok": bad is None and not missing, "bad_member": bad, "missing": missing}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_serve"]:
        serve(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="MB of files in all (default 200)")
    parser.add_argument("--files", type=int, default=8, help="how many files (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="downloads of each (default 3)")
    parser.add_argument("--kind", choices=sorted(KINDS), default="png")
    parser.add_argument("--files-url", help="JOBWIRE_FILES_URL (default: in the database)")
    parser.add_argument("--no-verify", action="store_true", help="skip the zipfile check")
    parser.add_argument("-o", "--output", type=Path, default=RESULTS / "files.json")
    args = parser.parse_args(argv)
    console = Console()
    load = busy_warning(console)
    total = args.mb * MB
    env = {"JOBWIRE_FILES_URL": args.files_url} if args.files_url else {}
    os.environ.update(env)

    with tempfile.TemporaryDirectory(prefix="jobwire-bench-files-") as tmp:
        workdir = Path(tmp)
        db = f"sqlite:///{workdir / 'jobwire.db'}"
        bar = progress_bar(console)
        with bar:
            step = bar.add_task(f"setup: {args.files} files, {args.mb} MB", total=2)
            bar.refresh()
            paths, floor = make_sources(workdir, args.files, total, args.kind)
            bar.advance(step)
            bar.refresh()
            job_id = make_job(db, paths, args.kind)
            bar.advance(step)
            runs: list[dict[str, Any]] = []
            serve_args = [__file__, "_serve", "--db", db, "--floor", str(floor)]
            with server(serve_args, env, workdir / "server.log") as (base, pid):
                memory = Memory(pid)
                urls = {
                    "zip": f"{base}/api/jobs/{job_id}/export?format=zip",
                    "floor": f"{base}/bench/floor",
                }
                with httpx.Client(timeout=120) as client:
                    for r in range(args.rounds):
                        for system, url in urls.items():
                            task = bar.add_task(f"round {r + 1}: {system}", total=total)
                            seen = [0]

                            def tick(n: int, task: Any = task, seen: list[int] = seen) -> None:
                                seen[0] += n
                                if seen[0] >= 16 * MB:  # a refresh now and then, not per chunk
                                    bar.advance(task, seen[0])
                                    bar.refresh()
                                    seen[0] = 0

                            run = download(client, url, memory, tick)
                            bar.update(task, visible=False)
                            runs.append({"system": system, "round": r + 1, **run})
                    checked = None
                    if not args.no_verify:
                        bar.add_task("checking the ZIP with zipfile", total=None)
                        bar.refresh()
                        checked = verify(client, urls["zip"], paths, workdir)

    summary = {}
    for system in ("zip", "floor"):
        mine = [r for r in runs if r["system"] == system]
        seconds = statistics.median(r["seconds"] for r in mine)
        summary[system] = {
            "content_mb_s_median": total / MB / seconds,
            "mb_s_median": statistics.median(r["mb_s"] for r in mine),
            "mb_s_best": max(r["mb_s"] for r in mine),
            "peak_growth_mb_max": max(r["peak_growth_mb"] for r in mine),
            "bytes": mine[0]["bytes"],
        }
    met = summary["zip"]["peak_growth_mb_max"] < TARGET_GROWTH_MB
    table = Table(
        title=f"Downloads of {args.mb} MB ({args.files} files, {args.kind}), {args.rounds} rounds"
    )
    for column in (
        "system",
        "bytes sent",
        "content MB/s",
        "sent MB/s",
        "peak RSS growth (max)",
        "target",
    ):
        table.add_column(column, justify="left" if column == "system" else "right")
    names = {
        "zip": "jobwire export?format=zip (streamed)",
        "floor": "Starlette FileResponse (floor)",
    }
    for system, row in summary.items():
        table.add_row(
            names[system],
            f"{row['bytes']:,}",
            f"{row['content_mb_s_median']:.0f}",
            f"{row['mb_s_median']:.0f}",
            f"{row['peak_growth_mb_max']:.1f} MB",
            f"< {TARGET_GROWTH_MB:.0f} MB: {verdict(met)}" if system == "zip" else "-",
        )
    console.print(table)
    console.print(
        f"MB/s: medians of the rounds; content = the {args.mb} MB of files / seconds, sent = "
        "the bytes on the wire / seconds (fewer for the ZIP when it deflates)."
    )
    rounds = ", ".join(f"{r['system']} {r['peak_growth_mb']:.1f}" for r in runs)
    console.print(f"peak RSS growth per round (MB): {rounds}")
    if checked is not None:
        console.print(f"ZIP check: {'[green]ok[/]' if checked['ok'] else f'[red]{checked}[/]'}")
    ratio = summary["zip"]["content_mb_s_median"] / summary["floor"]["content_mb_s_median"]
    console.print(f"ZIP / floor speed (content): {ratio:.2f}")
    write_result(
        args.output,
        {
            "bench": "files",
            "parameters": {
                k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
            },
            "environment": environment(
                "starlette", "uvicorn", "stream-zip", "httpx", loadavg_start=load
            ),
            "runs": runs,
            "summary": summary,
            "zip_over_floor_speed": ratio,
            "zip_check": checked,
            "target": {"zip_peak_growth_mb_under": TARGET_GROWTH_MB, "met": met},
        },
    )
    console.print(f"results: {args.output}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
