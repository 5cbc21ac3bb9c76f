"""The simulated Trackops API that the demo and every test run against over real HTTP.

Start one with `SandboxServer(SandboxOptions(...))`, or build the Flask app with
`create_sandbox_app`; drive it with `SandboxControl`. Switches, faults and the harness API are
described in bridge/sandbox/README.md.
"""

from bridge.sandbox.app import create_sandbox_app
from bridge.sandbox.control import SandboxControl
from bridge.sandbox.options import SandboxOptions
from bridge.sandbox.server import SandboxServer, serve_forever

__all__ = [
    "SandboxControl",
    "SandboxOptions",
    "SandboxServer",
    "create_sandbox_app",
    "serve_forever",
]
