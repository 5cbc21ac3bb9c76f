"""The sandbox Flask app: a faithful, switchable simulation of the Trackops REST API.

Entry point: `create_sandbox_app(options)`. It serves the API under /api/v1 (api.py), the test
harness under /_sandbox (harness.py), and puts faults and the request log in front (front.py).
"""

from __future__ import annotations

from flask import Flask

from trackops_sandbox.api import install_api
from trackops_sandbox.front import ApiFront
from trackops_sandbox.harness import install_harness
from trackops_sandbox.options import SandboxOptions
from trackops_sandbox.state import SandboxState

__all__ = ["SandboxOptions", "create_sandbox_app", "sandbox_state"]

EXTENSION_KEY = "trackops_sandbox"


def create_sandbox_app(options: SandboxOptions | None = None) -> Flask:
    """A new sandbox with its own in-memory state, seeded from `options`."""
    state = SandboxState(options or SandboxOptions())
    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = state
    install_api(app, state)
    install_harness(app, state)
    app.wsgi_app = ApiFront(app.wsgi_app, state)  # type: ignore[method-assign]
    return app


def sandbox_state(app: Flask) -> SandboxState:
    """The state behind an app from `create_sandbox_app`, for in-process tests and benches."""
    state: SandboxState = app.extensions[EXTENSION_KEY]
    return state
