"""Real CalDAV servers for the push tests: Radicale and Xandikos as subprocesses on free ports.

Each can be stopped and started again on the same port and folder (a restart mid-push).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.processes import free_port

USERNAME = "alice"
PASSWORD = "correct horse"

_MKCALENDAR = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
    "<d:displayname>{name}</d:displayname></d:prop></d:set></c:mkcalendar>"
)


class CaldavServer:
    """One server process; ``collection(name)`` makes a calendar and returns its URL."""

    name = ""
    auth: tuple[str, str] | None = None
    home = ""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.options(self.base_url + "/", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise RuntimeError(f"{self.name} exited with {code}") from None
                time.sleep(0.05)  # waiting for a port to open, not for a race
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, url, auth=self.auth, timeout=10, **kwargs)  # type: ignore[arg-type]

    def collection(self, name: str) -> str:
        url = f"{self.base_url}{self.home}{name}/"
        answer = self.request("MKCALENDAR", url, content=_MKCALENDAR.format(name=name))
        assert answer.status_code == 201, answer.text
        return url

    def objects(self, collection_url: str) -> dict[str, str]:
        """Object name -> its text, read with plain WebDAV (PROPFIND, then GET each)."""
        answer = self.request("PROPFIND", collection_url, headers={"Depth": "1"})
        assert answer.status_code == 207, answer.text
        names = [href.rsplit("/", 1)[-1] for href in _hrefs(answer.text) if href.endswith(".ics")]
        return {name: self.request("GET", collection_url + name).text for name in names}


def _hrefs(xml: str) -> list[str]:
    import re

    return re.findall(r"<(?:\w+:)?href>([^<]+)</(?:\w+:)?href>", xml)


class Radicale(CaldavServer):
    name = "Radicale"
    auth = (USERNAME, PASSWORD)
    home = f"/{USERNAME}/"

    def command(self) -> list[str]:
        users = self.folder / "users"
        users.write_text(f"{USERNAME}:{PASSWORD}\n", encoding="utf-8")
        return [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{self.port}",
            "--storage-filesystem-folder",
            str(self.folder / "collections"),
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(users),
            "--auth-htpasswd-encryption",
            "plain",
            "--auth-delay",
            "0",  # Radicale slows every refused login by default; the tests refuse on purpose
        ]


class Xandikos(CaldavServer):
    name = "Xandikos"
    home = "/user/calendars/"

    def command(self) -> list[str]:
        return [
            str(Path(sys.executable).parent / "xandikos"),
            "serve",
            "-d",
            str(self.folder / "root"),
            "--defaults",
            "-l",
            "127.0.0.1",
            "-p",
            str(self.port),
            "--state-dir",
            str(self.folder / "state"),
        ]
