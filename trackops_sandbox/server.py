"""Serving the sandbox over real HTTP: `SandboxServer` (a thread, for tests and the demo) and
`serve_forever` (the foreground server behind `trackops-bridge sandbox`).
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Self

from werkzeug.serving import WSGIRequestHandler, make_server

from trackops_sandbox.app import create_sandbox_app, sandbox_state
from trackops_sandbox.control import SandboxControl
from trackops_sandbox.front import API_PREFIX
from trackops_sandbox.options import DEMO_TOKEN, SandboxOptions
from trackops_sandbox.state import SandboxState


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: the sandbox keeps its own log at /_sandbox/requests."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class SandboxServer:
    """A sandbox on 127.0.0.1 at a free port, served from a daemon thread until `stop()`.

    Use as a context manager, or call `stop()` yourself. `base_url` is what a Trackops client is
    given (".../api/v1"); `control` drives the harness.
    """

    def __init__(self, options: SandboxOptions | None = None, *, host: str = "127.0.0.1") -> None:
        self.options = options or SandboxOptions()
        self.app = create_sandbox_app(self.options)
        self._server = make_server(host, 0, self.app, threaded=True, request_handler=_QuietHandler)
        self.port: int = self._server.server_port
        self.root_url = f"http://{host}:{self.port}"
        self.base_url = self.root_url + API_PREFIX
        self.username = self.options.username  # the login, as in TRACKOPS_USERNAME
        self.token = self.options.token
        # What plain HTTP clients send: Trackops wants the login with "/token" appended.
        self.basic_auth = (f"{self.username}/token", self.token)
        self.control = SandboxControl(self.root_url)
        # A short poll interval makes stop() quick; tests start and stop many servers.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def state(self) -> SandboxState:
        return sandbox_state(self.app)

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
            self._server.server_close()
            self.control.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def startup_lines(root_url: str, options: SandboxOptions) -> list[str]:
    """What `serve_forever` prints: where the API is and which credentials it accepts.

    The demo token is public and printed; any other token may be a real one (passed in from
    TRACKOPS_API_TOKEN) and is never echoed.
    """
    token = options.token if options.token == DEMO_TOKEN else "(the token you configured)"
    rate = f"{options.rate_limit:g} request/s" if options.rate_limit else "off"
    return [
        f"Trackops sandbox: {root_url}{API_PREFIX}  ({options.events} events, rate limit {rate})",
        f"  user:    {options.username}/token   (TRACKOPS_USERNAME={options.username})",
        f"  token:   {token}",
        f"  harness: {root_url}/_sandbox/  (variants, faults, requests, reset)",
    ]


def serve_forever(host: str, port: int, options: SandboxOptions) -> None:
    """Serve the sandbox in the foreground until interrupted, after saying where and as whom."""
    app = create_sandbox_app(options)
    server = make_server(host, port, app, threaded=True)
    for line in startup_lines(f"http://{host}:{server.server_port}", options):
        print(line)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
