"""A real webhook receiver for tests: a threaded HTTP server on a free port of 127.0.0.1 that
checks every message's signature with the subscription's secret and records what arrived.

`Receiver.answers` scripts the statuses (then 200s); `Receiver.hold()` keeps the next request
open until released (to kill a worker mid-delivery). Signatures are checked twice: by the
spec's reference library, and by the `verify` the README shows receivers, run as written there.
"""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Message:
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    status: int  # what the receiver answered
    is_verified: bool  # by the reference library and by the README's hmac, both

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


README = Path(__file__).resolve().parents[2] / "README.md"


@cache
def readme_verify() -> Callable[[str, dict[str, str], bytes], bool]:
    """The `verify(secret, headers, body)` of the README's Webhooks section, as written there."""
    section = README.read_text(encoding="utf-8").split("\n## Webhooks\n", 1)[1].split("\n## ")[0]
    code = textwrap.dedent(section.split("```python\n", 1)[1].split("```", 1)[0])
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # the README's own example, run to keep it true
    verify: Callable[[str, dict[str, str], bytes], bool] = namespace["verify"]
    return verify


class Receiver:
    def __init__(self) -> None:
        self.secret = ""  # set once the subscription is added
        self.messages: list[Message] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        self._hold: threading.Event | None = None
        self.held = threading.Event()  # set while a request is held open
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer()
                hold = receiver._take_hold()
                if hold is not None:
                    receiver.held.set()
                    hold.wait(30)
                message = Message(
                    headers.get("webhook-id", ""),
                    headers.get("webhook-timestamp", ""),
                    headers.get("webhook-signature", ""),
                    body,
                    status,
                    receiver._verify(headers, body),
                )
                with receiver._lock:
                    receiver.messages.append(message)
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender went away meanwhile (killed)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/trackops"
        # A short poll interval makes shutdown() quick (0.5 s by default): every test stops one.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _answer(self) -> int:
        with self._lock:
            return self.answers.pop(0) if self.answers else 200

    def _take_hold(self) -> threading.Event | None:
        with self._lock:
            hold, self._hold = self._hold, None
            return hold

    def _verify(self, headers: dict[str, str], body: bytes) -> bool:
        try:
            Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, KeyError, ValueError):
            return False
        return readme_verify()(self.secret, headers, body)

    def hold(self) -> threading.Event:
        """Keep the next request open until the returned event is set."""
        release = threading.Event()
        with self._lock:
            self._hold = release
        return release

    def received(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def by_id(self) -> dict[str, list[Message]]:
        found: dict[str, list[Message]] = {}
        for message in self.received():
            found.setdefault(message.webhook_id, []).append(message)
        return found


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver._thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
