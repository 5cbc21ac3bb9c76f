"""Print the PostgreSQL URL given if a server answers there, else nothing (for `make test`)."""

import sys

import psycopg

url = sys.argv[1]
try:
    psycopg.connect(url, connect_timeout=3).close()
except psycopg.Error as exc:
    print(
        f"PostgreSQL not reachable at {url} ({exc.__class__.__name__}): "
        "the store contract suite runs on SQLite only",
        file=sys.stderr,
    )
else:
    print(url)
