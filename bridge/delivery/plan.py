"""The push plan: what a destination must be sent so it holds exactly the feed's events.

Entry point: ``plan_push()``. Pure (no I/O): from what the store says the destination holds, the
objects the feed serves now and, on a reconcile, the destination's own listing, it decides the
PUTs and DELETEs. It names only UIDs the bridge created, so a person's own events in the same
calendar are never in a plan.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.store.delivery import PushedObject

# Characters safe in a path segment on every server tried; the rest of a UID becomes "-".
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class WantedObject:
    """One event as the feed serves it, written as a standalone calendar object."""

    uid: str
    body: bytes

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True)
class Put:
    uid: str
    name: str  # the object's file name in the collection
    body: bytes
    content_hash: str
    if_match: str | None  # the ETag it must still have; None: it must not exist yet


@dataclass(frozen=True)
class Delete:
    uid: str
    name: str
    if_match: str | None


@dataclass(frozen=True)
class PushPlan:
    puts: list[Put] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    # Ours in the store, gone from the destination and from the feed: only the record goes.
    forgotten: list[str] = field(default_factory=list)
    # Ours, listed with an ETag the store did not know (it gave none, or someone edited it).
    etags_seen: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.puts) + len(self.deletes)


def object_name(uid: str) -> str:
    """The file name of a UID's object: readable, and the same on every push."""
    return _UNSAFE_IN_NAME.sub("-", uid) + ".ics"


def plan_push(
    held: Mapping[str, PushedObject],
    wanted: Mapping[str, WantedObject],
    listing: Mapping[str, str | None] | None = None,
) -> PushPlan:
    """The requests that bring the destination from ``held`` to ``wanted``.

    ``listing`` (object name -> ETag), from a reconcile, is trusted over ``held``: one of ours
    that is missing there is put back (or forgotten if it left the feed), and one whose ETag
    changed is put again over the listed ETag, since the destination mirrors the feed.
    """
    plan = PushPlan()
    for uid, stored in sorted(held.items()):
        name = _name_of(stored)
        if listing is not None and name not in listing:
            if uid not in wanted:
                plan.forgotten.append(uid)
            continue
        listed = listing.get(name) if listing is not None else None
        etag = listed or stored.etag
        drifted = listing is not None and stored.etag is not None and listed != stored.etag
        if listed and listed != stored.etag:
            plan.etags_seen[uid] = listed
        if uid not in wanted:
            plan.deletes.append(Delete(uid, name, etag))
        elif drifted or wanted[uid].content_hash != stored.content_hash:
            plan.puts.append(_put(wanted[uid], name, etag))
    for uid, item in sorted(wanted.items()):
        is_held = uid in held and (listing is None or _name_of(held[uid]) in listing)
        if not is_held:
            plan.puts.append(_put(item, object_name(uid), None))
    return plan


def _name_of(stored: PushedObject) -> str:
    return stored.href.rstrip("/").rsplit("/", 1)[-1]


def _put(item: WantedObject, name: str, if_match: str | None) -> Put:
    return Put(item.uid, name, item.body, item.content_hash, if_match)
