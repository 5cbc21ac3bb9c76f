"""What a web process keeps of stored renders: a byte-bounded LRU of renders prepared to serve.

A stored render's answers (ETags per encoding, Last-Modified as sent, the headers) are worked
out once, when it is first read from the store, and reused by every fetch until the store
names another ETag.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

from werkzeug.http import http_date

from bridge.store import FeedRender

K = TypeVar("K")
V = TypeVar("V")

# A rotated URL stops working at once (the README's promise), so no cache may answer for us:
# "private" keeps shared caches (a CDN, a corporate proxy) from storing a feed at all, and
# "no-cache" makes the client's own copy revalidate on every fetch, which costs a 304 (one
# small store read) when nothing changed, and a 404 once the URL was rotated.
CACHE_CONTROL = "private, no-cache"


class BoundedCache(Generic[K, V]):
    """Values by key; the least recently used go first once their sizes pass ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if (entry := self._entries.get(key)) is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: K, value: V, size: int) -> None:
        with self._lock:
            if (replaced := self._entries.pop(key, None)) is not None:
                self.size -= replaced[1]
            if size > self.max_bytes:
                return  # it would push out everything else and still not fit
            self._entries[key] = (value, size)
            self.size += size
            while self.size > self.max_bytes:
                self.size -= self._entries.popitem(last=False)[1][1]


class PreparedRender:
    """A stored render with what every answer from it repeats, worked out once: its ETags,
    its Last-Modified as sent and its headers. Gzip-accepting clients get the gzipped body as
    the store keeps it (the same bytes from every process, so its ETag holds across them)."""

    def __init__(self, render: FeedRender, slug: str) -> None:
        self.render = render
        # Always there when read from the store; a render made here is compressed as stored.
        self.gzipped = render.gzipped or gzip.compress(render.body, 6, mtime=0)
        self.size = len(render.body) + len(self.gzipped)
        self.etag = render.etag
        # Each encoding is its own representation and needs its own strong ETag; either one
        # validates a conditional request, since both carry the same calendar.
        self.gzip_etag = render.etag[:-1] + '-gzip"'
        self.last_modified = render.rendered_at.replace(microsecond=0)
        self.last_modified_text = http_date(self.last_modified)
        common = [
            ("Cache-Control", CACHE_CONTROL),
            ("Vary", "Accept-Encoding"),
            ("Last-Modified", self.last_modified_text),
        ]
        self.not_modified = {
            False: [("ETag", self.etag), *common],
            True: [("ETag", self.gzip_etag), *common],
        }
        disposition = ("Content-Disposition", f'inline; filename="{slug}.ics"')
        calendar = ("Content-Type", "text/calendar; charset=utf-8")
        self.full = {
            False: [("ETag", self.etag), *common, calendar, disposition],
            True: [
                ("ETag", self.gzip_etag),
                *common,
                calendar,
                ("Content-Encoding", "gzip"),
                disposition,
            ],
        }

    def body(self, is_gzip: bool) -> bytes:
        return self.gzipped if is_gzip else self.render.body
