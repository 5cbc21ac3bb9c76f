"""Worker take-over figures: how long after the lease holder is SIGKILLed (on this machine) or
frozen with SIGSTOP (as a machine cut off looks to the others) the second worker holds the
lease, for a few lease lengths. Real processes: a sandbox, two `trackops-bridge worker`s and a
SQLite file, as tests/test_lease_workers.py runs them.

    .venv/bin/python bench/lease.py [--rounds N] [--leases 3,10,30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.store import Store, open_store
from tests.support.processes import (
    base_env,
    bridge,
    freeze_between_transactions,
    sandbox_process,
    started,
    wait_for,
)


def holder_pid(store: Store) -> int | None:
    lease = store.read_worker_lease()
    if not lease.is_live or lease.holder is None:
        return None
    return int(lease.holder.split(" pid ")[1].split()[0])


def take_over(folder: Path, sandbox_env: dict[str, str], lease: float, how: str) -> float:
    url = f"sqlite:///{folder / 'bridge.db'}"
    env = base_env(
        **sandbox_env,
        DATABASE_URL=url,
        TRACKOPS_RATE_LIMIT="8",
        BRIDGE_WORKER_LEASE=str(lease),
        BRIDGE_POLL_INTERVAL="60",
    )
    with (
        open_store(url) as store,
        started(bridge("worker"), env, folder) as first,
    ):
        store.migrate()
        wait_for(lambda: holder_pid(store) == first.pid, "the first worker to hold the lease")
        with started(bridge("worker"), env, folder) as second:
            second.wait_for_line("another worker holds the lease")
            if how == "killed":
                stopped = time.monotonic()
                first.kill()
            else:
                # Frozen just after a renewal, outside any transaction (see the test): the
                # longest wait, a whole lease, plus the waiter's next look.
                freeze_between_transactions(store, first)
                stopped = time.monotonic()
            try:
                wait_for(lambda: holder_pid(store) == second.pid, "the take-over", 4 * lease + 5)
            except AssertionError:
                print(second.output, store.read_worker_lease(), file=sys.stderr)
                raise
            took = time.monotonic() - stopped
            first.kill()
            return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--leases", default="3,10")
    args = parser.parse_args()
    leases = [float(x) for x in args.leases.split(",")]
    with (
        tempfile.TemporaryDirectory() as root,
        sandbox_process(Path(root), events=300, rate_limit=10) as sandbox,
    ):
        print("| Lease | Holder | Take-over (median, max of rounds) |")
        print("|---|---|---|")
        for lease in leases:
            for how in ("killed", "frozen"):
                times = []
                for n in range(args.rounds):
                    folder = Path(root) / f"{lease}-{how}-{n}"
                    folder.mkdir()
                    sandbox.control.reset()
                    times.append(take_over(folder, sandbox.client_env(), lease, how))
                print(
                    f"| {lease:.0f} s | {how} | {statistics.median(times):.2f} s, "
                    f"max {max(times):.2f} s |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
