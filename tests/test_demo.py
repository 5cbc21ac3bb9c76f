"""The demo cannot mislead: a busy port is refused up front in one line that names what to run,
a second demo cannot wipe the first one's data, each run starts clean, the CLI reaches the
demo's data through var/demo/demo.env, and the login page says where the password is.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bridge import demo
from bridge.demo import demo_settings, require_free_port, write_cli_env
from bridge.errors import DemoError
from bridge.store import open_store
from bridge.web import app_context_of, create_app
from tests.support.events import SYNC_AT, make_event
from tests.support.processes import REPO, base_env, bridge
from trackops_sandbox.options import SandboxOptions


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_busy_port_gets_one_line_naming_what_to_run(busy_port: int, tmp_path: Path) -> None:
    result = subprocess.run(
        bridge("demo", "--port", str(busy_port)),
        cwd=tmp_path,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: port {busy_port} on 127.0.0.1 is already in use")
    assert "make demo PORT=" in line and "trackops-bridge demo --port " in line
    assert not (tmp_path / "var").exists(), "nothing was started or created before the check"


def test_the_port_named_instead_is_free(busy_port: int) -> None:
    with pytest.raises(DemoError) as refused:
        require_free_port(busy_port)
    suggested = int(refused.value.advice.split("PORT=")[1].split("`")[0])
    require_free_port(suggested)


def test_make_demo_passes_port_on(tmp_path: Path) -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "PORT ?= 8000" in makefile
    assert "trackops-bridge demo --port $(PORT)" in makefile


def test_a_second_demo_cannot_take_the_first_ones_folder(in_tmp: Path) -> None:
    with demo._demo_folder_lock():
        with (
            pytest.raises(DemoError, match=r"is using var/demo/ already"),
            demo._demo_folder_lock(),
        ):
            pass
    with demo._demo_folder_lock():  # free again once the first stopped
        pass


def test_each_run_starts_from_a_clean_database(in_tmp: Path) -> None:
    folder = in_tmp / "var" / "demo"
    folder.mkdir(parents=True)
    names = ["bridge.db", "bridge.db-wal", "bridge.db-shm", "bridge.db.outbox-lock"]
    for name in names:
        (folder / name).write_text("from an earlier run")
    demo._start_clean()
    assert not any((folder / name).exists() for name in names)


def test_the_cli_reads_the_demo_s_data_through_demo_env(in_tmp: Path) -> None:
    options = SandboxOptions()
    settings = demo_settings("http://127.0.0.1:9/api/v1", options, 8123, "pw-for-the-demo")
    with open_store(settings.database_url) as store:
        store.migrate()
        store.apply_event_changes([make_event(1), make_event(2)], [], SYNC_AT)
        store.hold_worker_lease("worker on elsewhere pid 1 #abc", timedelta(seconds=60))
    env_file = write_cli_env(settings)
    assert env_file == Path("var/demo/demo.env")
    assert "pw-for-the-demo" not in env_file.read_text()  # the password is the terminal's
    elsewhere = in_tmp / "elsewhere"  # from another folder, as the line printed says
    elsewhere.mkdir()
    shell = f". {in_tmp / env_file} && trackops-bridge status && trackops-bridge poll --once"
    result = subprocess.run(
        ["sh", "-c", shell], cwd=elsewhere, env=base_env(), capture_output=True, text=True
    )
    assert "Events mirrored:      2 (0 deleted)" in result.stdout, result.stdout + result.stderr
    # The demo's worker holds the lease: a poll by hand does not race it.
    assert result.returncode == 1
    assert "a worker is polling Trackops already" in result.stderr
    assert not (elsewhere / "var").exists()  # no new empty database beside it


def test_the_demo_s_login_page_says_where_the_password_is(in_tmp: Path) -> None:
    settings = demo_settings("http://127.0.0.1:9/api/v1", SandboxOptions(), 8123, "pw-demo-12")
    with open_store(settings.database_url) as store:
        store.migrate()
    app = create_app(settings)
    try:
        plain = app.test_client().get("/login").get_data(as_text=True)
        assert "BRIDGE_ADMIN_PASSWORD" in plain
        app.config["BRIDGE_LOGIN_HINT"] = demo.LOGIN_HINT
        page = app.test_client().get("/login").get_data(as_text=True)
        assert "printed in the terminal where you started it" in page
        assert "pw-demo-12" not in page
    finally:
        app_context_of(app).store.close()


def test_without_the_sandbox_installed_the_demo_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The product wheel leaves the simulator out: an installation without the [demo] extra.
    monkeypatch.setitem(sys.modules, "trackops_sandbox", None)
    with pytest.raises(DemoError) as raised:
        demo.require_sandbox()
    assert "pip install -e ./trackops_sandbox -e '.[demo]'" in raised.value.describe()
