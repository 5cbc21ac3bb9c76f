"""The simulated Trackops API that the demo and every test run against over real HTTP.

Start one with `SandboxServer(SandboxOptions(...))`, or build the Flask app with
`create_sandbox_app`; drive it with `SandboxControl`. Switches, faults and the harness API are
described in trackops_sandbox/README.md.
"""

from trackops_sandbox.app import create_sandbox_app
from trackops_sandbox.control import SandboxControl
from trackops_sandbox.options import SandboxOptions
from trackops_sandbox.server import SandboxServer, serve_forever

__all__ = [
    "SandboxControl",
    "SandboxOptions",
    "SandboxServer",
    "create_sandbox_app",
    "serve_forever",
]
