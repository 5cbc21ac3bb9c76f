"""Feed figures, printed in one run (asserts nothing; `make bench` also writes BENCHMARKS.md):

1. Cold render of 1k, 10k and 50k events of one mix: the bridge's writer, icalendar used
   directly (objects, add_missing_timezones) and ical-generator (node, bench/node/), each in a
   fresh process so no cache is warm, as events/s and as ratios to the bridge.
2. Re-render of "All events" after 1 and 100 changed events at 10k and 50k: the feed engine as
   the worker runs it, store reads and the stored write included (SQLite).
3. Peak RSS of a process rendering 50k events: the pure writer, and the engine from the store.
4. Served feeds under gunicorn as the Procfile runs it, measured with wrk at 1, 8 and 32
   connections: 200, 200 gzip and 304 against a baseline route in the same app answering the
   same bytes from memory, as req/s, p50 and p99 and the ratio to the baseline.

Run: .venv/bin/python bench/feeds.py [--quick]   (--quick: 1k/10k only, shorter wrk runs)
The set-up installs what it needs when missing: wrk (apt-get, as root) and bench/node's
packages (npm ci). Without node, ical-generator's figures are left out and said so.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NODE_DIR = BENCH / "node"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # fixed: every run renders the same events
ZONES = ["America/Chicago", "America/New_York", "Europe/London", "Australia/Sydney", None]
ACCOUNT = "bench"
DEFAULT_ZONE = "America/Chicago"
SERVED_EVENTS = 1_000
TARGETS = {
    "cold render at 10k (events/s)": 20_000,
    "cold render at 10k, times each peer": 8.0,
    "All events of 50k current again after 1 change (s)": 0.5,
    "peak RSS rendering 50k (MB)": 250,
    "served, worst ratio to the baseline": 0.8,
    "served, worst ratio to the baseline in server CPU per request": 0.8,
}


# ----------------------------------------------------------------------------- the events


def make_events(count: int, now: datetime = NOW) -> list:  # type: ignore[type-arg]
    """The mix: five zones (one of them none), addresses, notes, every tenth all-day, every
    fiftieth a long Unicode title; three hours apart."""
    from bridge.models import Address, Event

    return [
        Event(
            event_id=i,
            title=(
                f"Surveillance of subject {i}, site visit"
                if i % 50
                else f"Überwachung {i}: Gerichtstermin 日本語 " + "é" * 60
            ),
            start_at=now + timedelta(hours=3 * i),
            end_at=now + timedelta(hours=3 * i + (24 if i % 10 == 0 else 2)),
            calendar_id=1 + i % 3,
            timezone=ZONES[i % len(ZONES)],
            is_allday=i % 10 == 0,
            body=f"Case notes for visit {i}: arrive early, park on the east side.",
            address=Address(address_1=f"{i} Main St", city="Springfield", state="IL", zip="62701"),
            created_at=now - timedelta(days=30),
            updated_at=now - timedelta(days=1),
        )
        for i in range(1, count + 1)
    ]


def feed_items(count: int) -> list:  # type: ignore[type-arg]
    from bridge.models import FeedEvent

    return [
        FeedEvent(event=e, sequence=0, case_label="2026-0142", subject_name="J. Doe")
        for e in make_events(count)
    ]


# ----------------------------------------------------------------------------- renderers


def render_bridge(count: int) -> tuple[float, int]:
    from bridge.feeds import render_feed
    from bridge.models import Feed, FeedKind, Privacy

    items = feed_items(count)
    feed = Feed(1, FeedKind.ALL, None, "All events", Privacy.FULL, token="bench")
    started = time.perf_counter()
    body = render_feed(
        items,
        feed,
        account=ACCOUNT,
        default_timezone=DEFAULT_ZONE,
        refresh_interval=timedelta(minutes=15),
        generated_at=NOW,
    )
    return time.perf_counter() - started, len(body)


def render_icalendar(count: int) -> tuple[float, int]:
    """icalendar as its documentation shows it: objects, aware datetimes, then the
    VTIMEZONEs it derives itself (add_missing_timezones)."""
    import icalendar

    events = make_events(count)
    started = time.perf_counter()
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//bench//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "All events")
    for e in events:
        zone = ZoneInfo(e.timezone or DEFAULT_ZONE)
        vevent = icalendar.Event()
        vevent.add("uid", f"trackops-{ACCOUNT}-event-{e.event_id}@trackops-bridge")
        vevent.add("dtstamp", e.updated_at)
        vevent.add("sequence", 0)
        vevent.add("summary", e.title)
        vevent.add("description", e.body)
        vevent.add("location", e.address.one_line())
        if e.is_allday:
            vevent.add("dtstart", e.start_at.astimezone(zone).date())
            vevent.add("dtend", e.end_at.astimezone(zone).date() + timedelta(days=1))
        else:
            vevent.add("dtstart", e.start_at.astimezone(zone))
            vevent.add("dtend", e.end_at.astimezone(zone))
        calendar.add_component(vevent)
    calendar.add_missing_timezones()
    body = calendar.to_ical()
    return time.perf_counter() - started, len(body)


def render_ical_generator(count: int) -> tuple[float, int] | None:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules").exists():
        return None
    events = [
        {
            "uid": f"trackops-{ACCOUNT}-event-{e.event_id}@trackops-bridge",
            "start": e.start_at.isoformat(),
            "end": e.end_at.isoformat(),
            "timezone": e.timezone or DEFAULT_ZONE,
            "stamp": e.updated_at.isoformat(),
            "sequence": 0,
            "title": e.title,
            "description": e.body,
            "location": e.address.one_line(),
        }
        for e in make_events(count)
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(events, handle)
    try:
        out = subprocess.run(
            ["node", str(NODE_DIR / "render.mjs"), handle.name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    figures = json.loads(out)
    return figures["seconds"], figures["bytes"]


def child(*args: str) -> dict:  # type: ignore[type-arg]
    """Run this file's child mode in a fresh interpreter: no cache warm, RSS its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_child(mode: str, *args: str) -> None:
    if mode == "render":
        renderer, count = args[0], int(args[1])
        seconds, size = {"bridge": render_bridge, "icalendar": render_icalendar}[renderer](count)
        print(json.dumps({"seconds": seconds, "bytes": size, "rss_mb": peak_rss_mb()}))
    elif mode == "engine":
        print(json.dumps(engine_figures(args[0], int(args[1]))))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- the engine


def fill_store(url: str, count: int) -> None:
    from bridge.models import Privacy
    from bridge.store import open_store

    events = make_events(count, datetime.now(UTC).replace(microsecond=0))
    with open_store(url) as store:
        store.migrate()
        for start in range(0, count, 5_000):
            store.apply_event_changes(events[start : start + 5_000], [], NOW)
        store.ensure_feeds(Privacy.FULL)


def engine_options():  # type: ignore[no-untyped-def]
    from bridge.feed_engine import RenderOptions

    return RenderOptions(ACCOUNT, DEFAULT_ZONE, 90, timedelta(minutes=15))


def engine_figures(url: str, count: int) -> dict:  # type: ignore[type-arg]
    """Cold: every feed rendered from the store by a fresh engine (the worker after a start).
    Then "All events" current again after 1 and after 100 changed events."""
    from bridge.feed_engine import FeedEngine, render_after_pass
    from bridge.models import FeedKind
    from bridge.store import open_store

    figures: dict[str, float] = {}
    with open_store(url) as store:
        engine = FeedEngine(store, engine_options())
        started = time.perf_counter()
        render_after_pass(engine)  # as the worker runs it
        figures["cold_all_feeds_s"] = time.perf_counter() - started
        figures["cold_rss_mb"] = peak_rss_mb()
        all_feed = next(f for f in store.list_feeds() if f.kind is FeedKind.ALL)
        figures["bytes"] = len(store.get_feed_render(all_feed.feed_id).body)
        for changed in (1, 100):
            ids = range(7, 7 + changed * 37, 37)
            events = [store.get_event(event_id) for event_id in ids]
            stamp = datetime.now(UTC).replace(microsecond=0)
            store.apply_event_changes(
                [dataclasses.replace(e, title=f"{e.title} (moved {stamp})") for e in events],
                [],
                stamp,
            )
            started = time.perf_counter()
            result = engine.render_stale(feed_ids={all_feed.feed_id})
            figures[f"after_{changed}_s"] = time.perf_counter() - started
            assert result.events_written == changed, result.summary()
            render_after_pass(engine)  # the calendars' feeds too, before the next round
    return figures


# ----------------------------------------------------------------------------- serving


SERVE_APP = '''
"""The app the bench serves (bench/feeds.py writes and deletes this file)."""
import gzip, os
from flask import Response, request
import bridge.web.auth
from bridge.config import load_settings
from bridge.web import create_app

app = create_app(load_settings())
_body = open(os.environ["BENCH_BODY"], "rb").read()
_gzipped = gzip.compress(_body, 6, mtime=0)
_etag = os.environ["BENCH_ETAG"]


def baseline():
    """The same bytes and headers from memory: no store read, nothing decided."""
    headers = {"ETag": _etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("If-None-Match") == _etag:
        return Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(_gzipped, headers=headers, content_type="text/calendar; charset=utf-8")
    return Response(_body, headers=headers, content_type="text/calendar; charset=utf-8")


app.add_url_rule("/baseline", "baseline", baseline)
bridge.web.auth.PUBLIC_ENDPOINTS = bridge.web.auth.PUBLIC_ENDPOINTS | {"baseline"}
'''


def procfile_gunicorn(port: int) -> list[str]:
    """The Procfile's web command, for this port and the bench's app module."""
    line = next(
        raw.split(":", 1)[1].strip()
        for raw in (ROOT / "Procfile").read_text().splitlines()
        if raw.startswith("web:")
    )
    line = re.sub(r"\$\{PORT:-\d+\}", str(port), line)
    line = re.sub(r"\$\{WEB_CONCURRENCY:-(\d+)\}", lambda m: os.environ.get(
        "WEB_CONCURRENCY", m.group(1)), line)  # fmt: skip
    words = line.split()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    app_spec = next(w for w in words if "create_app_from_env" in w)
    return [gunicorn, *[w for w in words[1:] if w != app_spec], "bench_serve_app:app"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(url: str, body: bytes, etag: str) -> Iterator[tuple[int, int]]:
    folder = Path(tempfile.mkdtemp())
    (folder / "bench_serve_app.py").write_text(SERVE_APP)
    (folder / "body.ics").write_bytes(body)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}",
        "DATABASE_URL": url,
        "BRIDGE_ADMIN_PASSWORD": "bench-password",
        "BRIDGE_SECRET_KEY": "b" * 48,
        "TRACKOPS_SUBDOMAIN": ACCOUNT,
        "BENCH_BODY": str(folder / "body.ics"),
        "BENCH_ETAG": etag,
    }
    log = open(folder / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        procfile_gunicorn(port), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((folder / "gunicorn.log").read_text()) from None
                time.sleep(0.2)
        time.sleep(1.0)  # every worker booted
        yield port, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


ROUNDS = 5


def measure_pair(
    ours: str, theirs: str, connections: int, seconds: int, headers: list[str], master: int
) -> tuple[dict[str, float], dict[str, float]]:
    """The feed and the baseline in alternating rounds, each figure the median of its rounds:
    on a machine doing other work, a slow moment then costs both alike, not one of them. Also
    the gunicorn workers' CPU time per request, which other work on the machine leaves alone."""
    wrk(ours, connections, 1, headers)  # warm: every worker holds the body
    rounds: dict[str, list[dict[str, float]]] = {ours: [], theirs: []}
    for _ in range(ROUNDS):
        for url in (theirs, ours):
            before = workers_cpu(master)
            figures = wrk(url, connections, seconds, headers)
            figures["cpu_us"] = (workers_cpu(master) - before) * 1e6 / figures["requests"]
            rounds[url].append(figures)

    def median(url: str) -> dict[str, float]:
        keys = ("rate", "p50", "p99", "cpu_us")
        return {key: sorted(r[key] for r in rounds[url])[ROUNDS // 2] for key in keys}

    return median(ours), median(theirs)


def workers_cpu(master: int) -> float:
    """CPU seconds (user and system) the gunicorn workers under ``master`` have used."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, connections: int, seconds: int, headers: list[str]) -> dict[str, float]:
    # One wrk thread: on a small machine the load tool must not take the server's cores.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"wrk saw {non_2xx.group(1)} failed responses:\n{out}")
    return {
        "rate": rate,
        "requests": requests,
        "p50": _latency(out, "50%"),
        "p99": _latency(out, "99%"),
    }


def _latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def ensure_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (apt-get) ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    return shutil.which("wrk") is not None


def ensure_node_packages() -> None:
    if shutil.which("npm") and not (NODE_DIR / "node_modules").exists():
        print("installing ical-generator (npm ci in bench/node) ...", flush=True)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=False,
        )


# ----------------------------------------------------------------------------- the report


def section_render(sizes: list[int], results: dict[str, float]) -> None:
    print("\n## Cold render (a fresh process per run: no cache warm)\n")
    print("| events | bridge | icalendar direct | ical-generator | bridge vs icalendar | "
          "bridge vs ical-generator |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    for count in sizes:
        ours = child("render", "bridge", str(count))
        theirs = child("render", "icalendar", str(count))
        node = render_ical_generator(count)
        rate = count / ours["seconds"]
        peer = count / theirs["seconds"]
        node_rate = count / node[0] if node else None
        node_cell = f"{node_rate:,.0f}/s" if node_rate else "(no node)"
        node_ratio = f"{rate / node_rate:.1f}x" if node_rate else "-"
        print(
            f"| {count:,} | {rate:,.0f}/s ({ours['bytes'] / 1e6:.1f} MB) | {peer:,.0f}/s | "
            f"{node_cell} | {rate / peer:.1f}x | {node_ratio} |"
        )
        results[f"render_{count}"] = rate
        results[f"ratio_icalendar_{count}"] = rate / peer
        if node_rate:
            results[f"ratio_node_{count}"] = rate / node_rate
        if count == 50_000:
            results["pure_rss_mb"] = ours["rss_mb"]
    print(
        "\nThe bridge's bytes are its feed (VTIMEZONEs, privacy, read-back check); icalendar "
        "and ical-generator get the same events and fields. ical-generator is given plain "
        "Dates and a TZID, without a zone library, its cheapest path."
    )


def section_engine(sizes: list[int], results: dict[str, float]) -> None:
    print('\n## "All events" current again after a change (feed engine, SQLite)\n')
    print("| events | feed size | cold, every feed | after 1 changed | after 100 changed | "
          "peak RSS (cold) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    for count in sizes:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            fill_store(url, count)
            figures = child("engine", url, str(count))
        print(
            f"| {count:,} | {figures['bytes'] / 1e6:.1f} MB | {figures['cold_all_feeds_s']:.2f} s"
            f" | {figures['after_1_s']:.3f} s | {figures['after_100_s']:.3f} s | "
            f"{figures['cold_rss_mb']:.0f} MB |"
        )
        results[f"after_1_{count}"] = figures["after_1_s"]
        results[f"engine_rss_{count}"] = figures["cold_rss_mb"]
    print(
        "\nCold: a fresh engine renders the feed of everything and the three calendars' from "
        "the store (the worker after a restart). After a change: the store's light rows of "
        "every event, the changed events in full, their blocks, the join, the ETag and the "
        "stored write."
    )


def section_serving(quick: bool, results: dict[str, float]) -> None:
    print(f"\n## Served under gunicorn (the Procfile's command), {SERVED_EVENTS:,}-event feed\n")
    if not ensure_wrk():
        print("wrk is not installed and could not be: serving figures left out.")
        return
    from bridge.feed_engine import FeedEngine
    from bridge.models import FeedKind
    from bridge.store import open_store
    from bridge.web.feed_urls import feed_path

    seconds = 2 if quick else 4
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'serve.db'}"
        fill_store(url, SERVED_EVENTS)
        with open_store(url) as store:
            FeedEngine(store, engine_options()).render_stale()
            feed = next(f for f in store.list_feeds() if f.kind is FeedKind.ALL)
            render = store.get_feed_render(feed.feed_id)
        zipped = gzip.compress(render.body, 6, mtime=0)
        print(
            f"Feed: {len(render.body) / 1000:.0f} KB ({len(zipped) / 1000:.0f} KB gzipped); "
            f"WEB_CONCURRENCY {os.environ.get('WEB_CONCURRENCY', 'unset')}; wrk on the same "
            f"machine, {ROUNDS} alternating rounds of {seconds} s per cell, medians.\n"
        )
        print("| request | connections | feed req/s | baseline req/s | ratio | feed p50 / p99 | "
              "baseline p50 / p99 | server CPU per request, feed / baseline |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        with served(url, render.body, render.etag) as (port, master):
            base = f"http://127.0.0.1:{port}"
            modes = {
                "200": [],
                "200 gzip": ["Accept-Encoding: gzip"],
                "304": [f"If-None-Match: {render.etag}"],
            }
            worst = worst_cpu = float("inf")
            for mode, headers in modes.items():
                for connections in (1, 8, 32):
                    ours, theirs = measure_pair(
                        f"{base}{feed_path(feed)}",
                        f"{base}/baseline",
                        connections,
                        seconds,
                        headers,
                        master,
                    )
                    ratio = ours["rate"] / theirs["rate"]
                    cpu_ratio = theirs["cpu_us"] / ours["cpu_us"]
                    worst = min(worst, ratio)
                    worst_cpu = min(worst_cpu, cpu_ratio)
                    print(
                        f"| {mode} | {connections} | {ours['rate']:,.0f} | "
                        f"{theirs['rate']:,.0f} | {ratio:.2f}x | "
                        f"{ours['p50']:.2f} / {ours['p99']:.2f} ms | "
                        f"{theirs['p50']:.2f} / {theirs['p99']:.2f} ms | "
                        f"{ours['cpu_us']:,.0f} / {theirs['cpu_us']:,.0f} µs ({cpu_ratio:.2f}x) |",
                        flush=True,
                    )
            results["served_worst_ratio"] = worst
            results["served_worst_cpu_ratio"] = worst_cpu
    print(
        "\nThe baseline is a route in the same app answering the same bytes and headers from "
        "memory (no store read). The feed: one small read of the token and the stored render's "
        "head, the body from the process's memory, the fetch tallied. Server CPU per request "
        "is the gunicorn workers' user and system time over the requests wrk counted: unlike "
        "req/s, other work on the machine leaves it alone (its ratio is baseline / feed)."
    )


def section_targets(results: dict[str, float]) -> None:
    print("\n## Targets (issue 10)\n")
    print("| target | wanted | measured | met |")
    print("|---|---:|---:|---|")
    peers = [v for k, v in results.items() if k.startswith("ratio_") and k.endswith("_10000")]
    rss = max(results.get("pure_rss_mb", 0), results.get("engine_rss_50000", 0))
    measured = {
        "cold render at 10k (events/s)": results.get("render_10000"),
        "cold render at 10k, times each peer": min(peers) if peers else None,
        "All events of 50k current again after 1 change (s)": results.get("after_1_50000"),
        "peak RSS rendering 50k (MB)": rss or None,
        "served, worst ratio to the baseline": results.get("served_worst_ratio"),
        "served, worst ratio to the baseline in server CPU per request": results.get(
            "served_worst_cpu_ratio"
        ),
    }
    for name, wanted in TARGETS.items():
        value = measured[name]
        if value is None:
            print(f"| {name} | {wanted:,} | not measured | - |")
            continue
        lower_is_better = "(s)" in name or "RSS" in name
        met = value <= wanted if lower_is_better else value >= wanted
        shown = f"{value:,.3f}" if value < 10 else f"{value:,.0f}"
        print(f"| {name} | {wanted:,} | {shown} | {'yes' if met else 'NO'} |")


def describe_machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        cpu = model
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.0f} GB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def main() -> None:
    quick = "--quick" in sys.argv
    ensure_node_packages()
    print("# Feed figures (bench/feeds.py)\n")
    print(f"Machine: {describe_machine()}. Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.")
    results: dict[str, float] = {}
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 50_000]
    section_render(sizes, results)
    section_engine([s for s in sizes if s >= 10_000], results)
    section_serving(quick, results)
    section_targets(results)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        run_child(sys.argv[2], *sys.argv[3:])
    else:
        main()
