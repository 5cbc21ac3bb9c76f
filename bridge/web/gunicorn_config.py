"""gunicorn's settings for the web process, named by the Procfile: log lines in the same shape
as the worker's (one event per line, time, level, component; JSON with BRIDGE_LOG_FORMAT=json),
gunicorn's own and its access log included, on stdout.

The bind address, workers and access log stay on the Procfile's command line, where a host's
operator looks for them.
"""

from __future__ import annotations

from bridge.config import Settings, load_settings
from bridge.errors import ConfigError
from bridge.logs import logging_config


def _settings() -> Settings | None:
    try:
        return load_settings()
    except ConfigError:
        return None  # the app factory stops start-up with the one-line reason


logconfig_dict = logging_config(_settings())
