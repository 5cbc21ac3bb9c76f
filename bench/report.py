"""`make bench`: run bench/sync.py and bench/feeds.py, show their output as it comes, and write
BENCHMARKS.md with every figure, the machine, the date and the command that reruns it.

Run: .venv/bin/python bench/report.py [--quick]   (passed on to both benchmarks)
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from feeds import describe_machine  # bench/ is this script's folder

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "BENCHMARKS.md"


def run(script: str, args: list[str]) -> str:
    """The script's output, echoed line by line while it runs."""
    command = [sys.executable, str(ROOT / "bench" / script), *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    if process.wait() != 0:
        raise SystemExit(f"{script} failed (exit {process.returncode})")
    return "".join(lines)


def _feeds_section(output: str) -> str:
    """bench/feeds.py's Markdown, its headings one level down under this file's."""
    text = output.strip().replace("\n## ", "\n### ")
    return text.replace("# Feed figures (bench/feeds.py)", "## Feeds (bench/feeds.py)")


def main() -> None:
    args = [arg for arg in sys.argv[1:] if arg == "--quick"]
    sync = run("sync.py", args)
    feeds = run("feeds.py", args)
    command = "make bench" if not args else "make bench BENCH_ARGS=--quick"
    OUTPUT.write_text(
        "# Benchmarks\n\n"
        f"Written by `{command}` (bench/report.py) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.\n"
        f"Machine: {describe_machine()}.\n"
        "Figures from one run on a machine that may be doing other work: rerun to compare.\n\n"
        "## API economy and the bridge's own cost (bench/sync.py)\n\n"
        f"```\n{sync.strip()}\n```\n\n{_feeds_section(feeds)}\n"
    )
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
