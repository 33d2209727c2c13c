"""Run the benchmarks and write ``benchmarks/RESULTS.md``.

    python -m benchmarks.run [--quick]
        [--only cold,memory,throughput,asgi,workers,detection,explain]

Every figure of the launcher is compared with plain gunicorn measured in the same run,
with the variants interleaved (and their order rotated) round by round, so that load from
other programs on the machine falls on all of them alike. Only the ratios are meant to be
compared between runs; the absolute numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appservice_gunicorn import detect

from . import asgi_workers, build_output, naive_wrapper, profile_start, workers
from .apps import VARIANTS, BenchApp, build_apps, command, django_app, fastapi_app, flask_app
from .harness import (
    BenchError,
    Server,
    clean_env,
    http_status,
    median,
    running,
    tree_cpu_ms,
    tree_rss_kib,
    wait_for_200,
    wait_for_processes,
)
from .trees import Tree, make_tree

BENCH_DIR = Path(__file__).resolve().parent
WORK = BENCH_DIR / ".work"
LOGS = WORK / "logs"
SECTIONS = (
    "cold",
    "memory",
    "throughput",
    "asgi",
    "workers",
    "buildoutput",
    "warm",
    "detection",
    "explain",
)
TREE_SIZES = ((3_000, 5_000), (15_000, 25_000), (30_000, 50_000))
QUICK_TREE_SIZES = ((300, 500), (1_500, 2_500), (3_000, 5_000))
COLD_TARGET = 1.05
MEMORY_TARGET = 1.05
THROUGHPUT_TARGET = 0.98
DETECT_TARGET_MS = 20.0
LABELS = {"launcher": "appservice-gunicorn", "gunicorn": "plain gunicorn", "naive": "naive"}


@dataclass
class Row:
    """One compared figure: the samples of each variant, and how to judge the ratio."""

    what: str
    unit: str
    samples: dict[str, list[float]]
    target: float | None  # None: shown to explain the other rows, not judged
    higher_is_better: bool = False
    digits: int = 0

    def value(self, variant: str) -> float:
        return median(self.samples[variant])

    def ratio(self, variant: str = "launcher") -> float:
        return self.value(variant) / self.value("gunicorn")

    def met(self) -> bool:
        if self.target is None:
            return True
        ratio = self.ratio()
        return ratio >= self.target if self.higher_is_better else ratio <= self.target

    def target_text(self) -> str:
        if self.target is None:
            return "(info)"
        return f"{'≥' if self.higher_is_better else '≤'} {self.target:.2f}"

    def met_text(self) -> str:
        if self.target is None:
            return ""
        return "yes" if self.met() else "NO"


@dataclass
class TreeResult:
    tree: Tree
    dirs_in_tree: int
    detect_ms: list[float] = field(default_factory=list)
    dirs_listed: int = 0
    naive_ms: list[float] = field(default_factory=list)
    naive_dirs_listed: int = 0
    explain_ms: list[float] = field(default_factory=list)
    naive_explain_ms: list[float] = field(default_factory=list)


def say(message: str) -> None:
    print(message, flush=True)


def rotated(round_index: int, variants: Sequence[str] = VARIANTS) -> list[str]:
    """The variants in a different order each round, so none always runs first."""
    shift = round_index % len(variants)
    return [*variants[shift:], *variants[:shift]]


# -- 1. cold start ------------------------------------------------------------------------


def cold_start(app: BenchApp, rounds: int) -> list[Row]:
    """Wall time from spawn to the first 200, and the CPU time the process tree used by then
    (less sensitive to other load on the machine, so it tells noise from real cost)."""
    wall: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for variant in VARIANTS:  # warm-up: byte-compile, fill the page cache
        with running(f"warmup-{variant}", command(variant, app), 1, LOGS) as server:
            wait_for_200(server)
    for index in range(rounds):
        for variant in rotated(index):
            with running(f"cold-{variant}", command(variant, app), 1, LOGS) as server:
                wall[variant].append(wait_for_200(server) * 1000)
                cpu[variant].append(tree_cpu_ms(server.process.pid))
        say(f"  {app.name} round {index + 1}/{rounds}: " + _last(wall, "ms"))
    return [
        Row(f"Cold start, {app.name}, 1 worker", "ms", wall, COLD_TARGET),
        Row(f"CPU time to that first 200, {app.name}", "ms", cpu, None),
    ]


def _last(samples: dict[str, list[float]], unit: str) -> str:
    return ", ".join(f"{v} {samples[v][-1]:.0f} {unit}" for v in VARIANTS)


# -- 2. memory ----------------------------------------------------------------------------


def serving_rss_kib(server: Server, workers: int, variant: str) -> int:
    """Summed RSS of the whole tree once every worker has booted and served."""
    wait_for_200(server)
    wait_for_processes(server, workers + (2 if variant == "naive" else 1))
    for _ in range(4 * workers):
        http_status(server.port)
    time.sleep(1.0)
    readings = []
    for _ in range(3):
        readings.append(tree_rss_kib(server.process.pid))
        time.sleep(0.2)
    return int(median(readings))


def memory(app: BenchApp, workers: int, rounds: int) -> Row:
    samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for index in range(rounds):
        for variant in rotated(index):
            name = f"mem{workers}-{variant}"
            with running(name, command(variant, app), workers, LOGS) as server:
                samples[variant].append(serving_rss_kib(server, workers, variant) / 1024)
        say(f"  {workers} worker(s) round {index + 1}/{rounds}: " + _last(samples, "MiB"))
    plural = "s" if workers > 1 else ""
    return Row(
        f"Memory (summed RSS), {app.name}, {workers} worker{plural}",
        "MiB",
        samples,
        MEMORY_TARGET,
        digits=1,
    )


# -- 3. throughput ------------------------------------------------------------------------

WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_COUNT = re.compile(r"(\d+) requests in")


@dataclass
class WrkRun:
    rate: float
    requests: int
    errors: str


def wrk(port: int, seconds: float, connections: int) -> WrkRun:
    argv = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        f"http://127.0.0.1:{port}/",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    rate, count = WRK_RATE.search(done.stdout), WRK_COUNT.search(done.stdout)
    if rate is None or count is None:
        raise BenchError(f"wrk printed no rate:\n{done.stdout}\n{done.stderr}")
    errors = [line.strip() for line in done.stdout.splitlines() if "error" in line.lower()]
    errors += [line.strip() for line in done.stdout.splitlines() if "Non-2xx" in line]
    return WrkRun(float(rate.group(1)), int(count.group(1)), "; ".join(errors))


def throughput(
    app: BenchApp, workers: int, rounds: int, seconds: float, connections: int
) -> list[Row]:
    """wrk's rate, and the requests served per CPU second of the server's process tree
    (which other load on the machine slows down much less than the rate)."""
    samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
    per_cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for index in range(rounds):
        for variant in rotated(index):
            with running(f"tp-{variant}", command(variant, app), workers, LOGS) as server:
                wait_for_200(server)
                wait_for_processes(server, workers + (2 if variant == "naive" else 1))
                wrk(server.port, 2, connections)  # warm-up
                cpu_before = tree_cpu_ms(server.process.pid)
                run = wrk(server.port, seconds, connections)
                cpu_seconds = (tree_cpu_ms(server.process.pid) - cpu_before) / 1000
                if run.errors:
                    say(f"  {variant}: wrk reported {run.errors}")
                samples[variant].append(run.rate)
                per_cpu[variant].append(run.requests / cpu_seconds)
        say(f"  round {index + 1}/{rounds}: " + _last(samples, "req/s"))
    return [
        Row(
            f"Throughput, {app.name}, {workers} workers, {connections} connections, {seconds:g} s",
            "req/s",
            samples,
            THROUGHPUT_TARGET,
            higher_is_better=True,
        ),
        Row(
            "Requests per CPU second of the server's processes, same runs",
            "req/CPU s",
            per_cpu,
            None,
            higher_is_better=True,
        ),
    ]


# -- 4, 5. detection and --explain on big trees --------------------------------------------


def count_dirs(folder: Path) -> int:
    return sum(1 for _ in os.walk(folder))


def timed_ms(call: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def listings(folder: Path, env: dict[str, str]) -> int:
    """How many folders detect() lists (every os.scandir call during one run)."""
    calls = 0
    real = os.scandir

    def counting(path: Any = ".") -> Any:
        nonlocal calls
        calls += 1
        return real(path)

    os.scandir = counting
    try:
        detect(folder, env=env)
    finally:
        os.scandir = real
    return calls


def detection(trees: Sequence[Tree], repeats: int, naive_repeats: int) -> list[TreeResult]:
    """In-process ``detect()`` (warm file system cache), the trees taken in turn."""
    env: dict[str, str] = {}
    results = [TreeResult(tree, count_dirs(tree.folder)) for tree in trees]
    for result in results:  # warm-up, and the counts
        result.dirs_listed = listings(result.tree.folder, env)
        result.naive_dirs_listed = naive_wrapper.find_app(str(result.tree.folder)).dirs_listed
    for index in range(repeats):
        for result in results:
            result.detect_ms.append(timed_ms(detect, result.tree.folder, env=env))
            if index < naive_repeats:
                result.naive_ms.append(timed_ms(naive_wrapper.find_app, str(result.tree.folder)))
    for result in results:
        say(
            f"  {result.tree.label} files: detect() {median(result.detect_ms):.2f} ms, "
            f"{result.dirs_listed} dirs listed; naive {median(result.naive_ms):.1f} ms, "
            f"{result.naive_dirs_listed} dirs listed"
        )
    return results


def explain(results: Sequence[TreeResult], repeats: int) -> None:
    for result in results:
        folder = str(result.tree.folder)
        argvs = {
            "launcher": [sys.executable, "-m", "appservice_gunicorn", "--explain"],
            "naive": [sys.executable, str(naive_wrapper.__file__), "--explain"],
        }
        for index in range(repeats + 1):
            for name in rotated(index, ("launcher", "naive")):
                argv = [*argvs[name], "--app-dir", folder]
                started = time.perf_counter()
                subprocess.run(
                    argv, check=True, capture_output=True, timeout=120, cwd=WORK, env=clean_env()
                )
                elapsed = (time.perf_counter() - started) * 1000
                if index == 0:
                    continue  # warm-up
                (result.explain_ms if name == "launcher" else result.naive_explain_ms).append(
                    elapsed
                )
        say(
            f"  {result.tree.label} files: --explain {median(result.explain_ms):.0f} ms, "
            f"naive --explain {median(result.naive_explain_ms):.0f} ms"
        )


# -- the report ----------------------------------------------------------------------------


def fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def compared_table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| Measure | appservice-gunicorn | plain gunicorn | ratio | target | met | "
        "naive wrapper | naive ratio |",
        "| --- | ---: | ---: | ---: | :---: | :---: | ---: | ---: |",
    ]
    for row in rows:
        runs = len(row.samples["gunicorn"])
        lines.append(
            f"| {row.what} ({row.unit}, median of {runs}) "
            f"| {fmt(row.value('launcher'), row.digits)} "
            f"| {fmt(row.value('gunicorn'), row.digits)} "
            f"| **{row.ratio():.3f}** | {row.target_text()} | {row.met_text()} "
            f"| {fmt(row.value('naive'), row.digits)} | {row.ratio('naive'):.3f} |"
        )
    return lines


def samples_list(rows: Sequence[Row]) -> list[str]:
    lines = []
    for row in rows:
        lines.append(f"- {row.what} ({row.unit}):")
        for variant in VARIANTS:
            values = ", ".join(fmt(v, row.digits) for v in row.samples[variant])
            lines.append(f"  - {LABELS[variant]}: {values}")
    return lines


def tree_table(results: Sequence[TreeResult]) -> list[str]:
    with_explain = any(r.explain_ms for r in results)
    first = results[0]
    head = (
        f"| venv + node_modules files | folders in tree | detect() ms (median of "
        f"{len(first.detect_ms)}) | folders listed | naive walk ms (median of "
        f"{len(first.naive_ms)}) | naive folders listed |"
    )
    rule = "| ---: | ---: | ---: | ---: | ---: | ---: |"
    if with_explain:
        runs = len(first.explain_ms)
        head += f" `--explain` wall ms (median of {runs}) | naive `--explain` wall ms |"
        rule += " ---: | ---: |"
    lines = [head, rule]
    for r in results:
        line = (
            f"| {r.tree.label} | {r.dirs_in_tree:,} | {median(r.detect_ms):.2f} "
            f"| {r.dirs_listed} | {median(r.naive_ms):.1f} | {r.naive_dirs_listed:,} |"
        )
        if with_explain:
            line += f" {median(r.explain_ms):.0f} | {median(r.naive_explain_ms):.0f} |"
        lines.append(line)
    return lines


def detection_verdict(results: Sequence[TreeResult]) -> str:
    worst = max(median(r.detect_ms) for r in results)
    constant = len({r.dirs_listed for r in results}) == 1
    met = worst < DETECT_TARGET_MS and constant
    return (
        f"Target: detect() under {DETECT_TARGET_MS:.0f} ms and independent of the size of "
        f"those folders: **{'met' if met else 'NOT met'}** (slowest median {worst:.2f} ms; "
        f"folders listed {'the same' if constant else 'NOT the same'} at every size)."
    )


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(
    rows: Sequence[Row],
    trees: Sequence[TreeResult],
    settings: dict[str, str],
    elapsed: float,
    asgi: Sequence[str] = (),
) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `nox -s bench` (`python -m benchmarks.run`); see docs/performance.md "
        "for the method and what the figures mean. Ratios are appservice-gunicorn (or the naive "
        "wrapper) "
        "divided by plain gunicorn measured in the same run, runs interleaved and their order "
        "rotated each round; absolute numbers depend on the machine and on what else runs on "
        "it, ratios much less.",
        "",
        *(f"- {k}: {v}" for k, v in settings.items()),
        f"- wall time of the whole run: {elapsed:.0f} s",
        "",
    ]
    if rows:
        lines += ["## Against plain gunicorn", "", *compared_table(rows), ""]
    if rows:
        lines += [
            "<details><summary>Every sample (in run order), to judge the noise</summary>",
            "",
            *samples_list(rows),
            "",
            "</details>",
            "",
        ]
    if asgi:
        lines += [*asgi, ""]
    if trees:
        lines += [
            "## Detection on an app folder with a big virtualenv and node_modules",
            "",
            *tree_table(trees),
            "",
            detection_verdict(trees),
            "",
        ]
    return "\n".join(lines)


def tool_versions() -> str:
    versions = []
    for name in ("gunicorn", "flask", "django"):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} missing")
    return ", ".join(versions)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few, short runs: a smoke test")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--rounds", type=int, default=None, help="cold-start rounds (15)")
    parser.add_argument("--memory-rounds", type=int, default=None, help="(3)")
    parser.add_argument("--throughput-rounds", type=int, default=None, help="(5)")
    parser.add_argument("--seconds", type=float, default=None, help="per wrk run (10)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="workers for throughput")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS.md")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also write pyinstrument profiles of the start-up path (benchmarks/.work)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        say(f"unknown sections: {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
        return 2
    rounds = args.rounds or (3 if args.quick else 15)
    memory_rounds = args.memory_rounds or (1 if args.quick else 3)
    throughput_rounds = args.throughput_rounds or (1 if args.quick else 5)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    sizes = QUICK_TREE_SIZES if args.quick else TREE_SIZES
    if {"throughput", "asgi"} & sections and shutil.which("wrk") is None:
        say("wrk is not installed (Debian package 'wrk'): skipping throughput and asgi")
        sections -= {"throughput", "asgi"}

    started = time.monotonic()
    load_before = load_average()
    WORK.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    trees: list[TreeResult] = []
    if "cold" in sections:
        say("Cold start: spawn to the first 200 on /")
        for app in build_apps(WORK):
            rows += cold_start(app, rounds)
    if {"memory", "throughput"} & sections:
        app = flask_app(WORK)
        if "memory" in sections:
            say("Memory: summed RSS of the process tree once serving")
            rows += [memory(app, workers, memory_rounds) for workers in (1, 5)]
        if "throughput" in sections:
            say(f"Throughput: wrk, {args.connections} connections, {seconds:g} s")
            rows += throughput(app, args.workers, throughput_rounds, seconds, args.connections)
    asgi: list[str] = []
    if "asgi" in sections:
        say("ASGI workers: native asgi against uvicorn's, requests per CPU second")
        compared = asgi_workers.compare(
            WORK,
            LOGS,
            workers=args.workers,
            rounds=throughput_rounds,
            seconds=seconds,
            connections=args.connections,
            load=lambda port, secs, conns: wrk(port, secs, conns).requests,
            say=say,
        )
        asgi = ["## Which worker for ASGI apps", "", *compared]
    if "workers" in sections:
        asgi += workers_section(rounds, memory_rounds, 21 if args.quick else 101)
    if "buildoutput" in sections:
        asgi += build_output_section(2 if args.quick else 5)
    if "warm" in sections:
        asgi += warm_section(1 if args.quick else 3, 2_000 if args.quick else 20_000)
    if {"detection", "explain"} & sections:
        say("Detection on big trees (generated once, kept in benchmarks/.work)")
        built = [make_tree(WORK, venv_files, node_files) for venv_files, node_files in sizes]
        trees = detection(built, 21 if args.quick else 101, 3 if args.quick else 7)
        if "explain" in sections:
            explain(trees, 3 if args.quick else 7)

    if args.profile:
        profile_start.main([])
    elapsed = time.monotonic() - started
    settings = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"load average {load_before} at start and {load_average()} at the end",
        "software": f"Python {platform.python_version()}, {tool_versions()}"
        + (f", {_wrk_version()}" if "throughput" in sections else ""),
        "mode": "quick (smoke test, not for publishing)" if args.quick else "full",
    }
    text = report(rows, trees, settings, elapsed, asgi)
    args.out.write_text(text)
    say("\n" + text)
    say(f"Written to {args.out}")
    missed = [r.what for r in rows if not r.met()]
    if trees and "NOT met" in detection_verdict(trees):
        missed.append("detection")
    missed += [line.split("|")[1].strip() for line in asgi if line.endswith("| NO |")]
    # A missed target is a finding to read in the table, not a failure of the run.
    say("Targets missed: " + "; ".join(missed) if missed else "All targets met.")
    return 0


def workers_section(rounds: int, memory_rounds: int, repeats: int) -> list[str]:
    """Markdown lines: the four-worker start, PSS, SIGHUP and wide-folder detection rows."""
    say("Workers: all 4 ready, PSS with 4 workers, SIGHUP to new code")
    apps = [flask_app(WORK), django_app(WORK), fastapi_app(WORK)]
    ready = workers.all_workers_ready(apps, WORK, LOGS, max(3, rounds // 2))
    memory = workers.memory(apps[0], LOGS, max(3, memory_rounds))
    # Plain gunicorn's HUP varies from 20 to 130 ms here: as many rounds as the cold start.
    hup = workers.sighup(WORK, LOGS, max(3, rounds))
    lines = [
        "## Faster and lighter than plain gunicorn",
        "",
        "min / median / max of each; the ratio is of the medians (launcher / plain gunicorn).",
        "",
        "| Measure | appservice-gunicorn | plain gunicorn | ratio | target | met |",
        "| --- | ---: | ---: | ---: | :---: | :---: |",
    ]
    for name, samples in ready.items():
        lines.append(
            workers.table(f"All 4 workers ready, {name}", "ms", samples, 0.60, lambda v: f"{v:.0f}")
        )
    lines.append(workers.table("PSS, Flask, 4 workers", "MiB", memory["PSS"], 0.75, _mib))
    lines.append(workers.table("RSS, Flask, 4 workers", "MiB", memory["RSS"], 1.00, _mib))
    lines.append(workers.table("SIGHUP to new code, 2 workers", "ms", hup, 1.00, _ms))
    # The three apps' folders as made by their own templates (the normal case), then two
    # wide folders.
    targets = {app.folder: 1.0 for app in apps} | {f: 20.0 for f in workers.wide_trees(WORK)}
    timings = workers.detect_ms(list(targets), repeats)
    lines += [
        "",
        "| detect() on | median ms | min ms | target | met |",
        "| --- | ---: | ---: | ---: | :---: |",
    ]
    for (folder, target), times in zip(targets.items(), timings.values(), strict=True):
        met = "yes" if median(times) < target else "NO"
        lines.append(
            f"| {folder.name} | {median(times):.2f} | {min(times):.2f} | < {target:.0f} | {met} |"
        )
    say("\n".join(lines))
    return lines


def build_output_section(rounds: int) -> list[str]:
    """Markdown lines: a new container from compressed build output, and its restart."""
    say("Build output: a new container from oryx-manifest.toml + antenv.tar.gz")
    say(f"  archive: {build_output.describe(WORK)}")
    samples = build_output.first_200(WORK, LOGS, rounds, say)
    rows = [
        ("New container, first 200", "launcher", "platform", 0.70),
        ("Restart with the extraction cached, first 200", "cached", "unpacked", 1.05),
    ]
    lines = [
        "## From App Service's compressed build output",
        "",
        f"A virtualenv of {build_output.describe(WORK)}, as `antenv.tar.gz` with its "
        "`oryx-manifest.toml`; the app imports flask, pandas and sqlalchemy. *platform*: "
        "`tar -xzf` to a folder, then gunicorn with its site-packages on `PYTHONPATH`, as App "
        "Service's startup script does; *unpacked*: the launcher on the same virtualenv not "
        "compressed. min / median / max; the ratio is of the medians.",
        "",
        "| Measure | appservice-gunicorn | compared with | ratio | target | met |",
        "| --- | ---: | ---: | ---: | :---: | :---: |",
    ]
    for what, ours, theirs, target in rows:
        lines.append(
            workers.table(
                f"{what} ({ours} / {theirs})",
                "ms",
                {"launcher": samples[ours], "gunicorn": samples[theirs]},
                target,
                _ms,
            )
        )
    say("\n".join(lines))
    return ["", *lines]


def warm_section(rounds: int, requests: int) -> list[str]:
    """Markdown lines: summed PSS of 4 workers after ``requests`` requests."""
    say(f"Memory as the app warms: summed PSS after {requests:,} requests, 4 workers")
    apps = [flask_app(WORK), django_app(WORK)]
    found = build_output.warm_pss(
        [(app.name, functools.partial(_command_of, app)) for app in apps],
        LOGS,
        rounds,
        requests,
    )
    lines = [
        "## Memory as the app warms",
        "",
        "| Measure | appservice-gunicorn | plain gunicorn | ratio | target | met |",
        "| --- | ---: | ---: | ---: | :---: | :---: |",
    ]
    for name, samples in found.items():
        title = f"PSS after {requests:,} requests, {name}, 4 workers"
        lines.append(workers.table(title, "MiB", samples, 0.70, _mib))
    say("\n".join(lines))
    return ["", *lines]


def _command_of(app: BenchApp, variant: str) -> list[str]:
    return command(variant, app)


def _mib(value: float) -> str:
    return f"{value:.1f}"


def _ms(value: float) -> str:
    return f"{value:.0f}"


def _wrk_version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


if __name__ == "__main__":
    sys.exit(main())
