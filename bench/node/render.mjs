// ical-generator, the peer bench/feeds.py measures: the same events, each in its own zone with
// a VTIMEZONE per zone, timed around building and serialising the calendar only.
// Usage: node render.mjs EVENTS.json  ->  {"events": N, "seconds": S, "bytes": B}
import { readFileSync } from "node:fs";
import ical from "ical-generator";
import { getVtimezoneComponent } from "@touch4it/ical-timezones";

const events = JSON.parse(readFileSync(process.argv[2], "utf8"));
const started = process.hrtime.bigint();
const calendar = ical({ name: "All events", timezone: { name: null, generator: getVtimezoneComponent } });
for (const e of events) {
  calendar.createEvent({
    id: e.uid,
    start: new Date(e.start),
    end: new Date(e.end),
    timezone: e.timezone,
    stamp: new Date(e.stamp),
    sequence: e.sequence,
    summary: e.title,
    description: e.description,
    location: e.location,
  });
}
const body = calendar.toString();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(JSON.stringify({ events: events.length, seconds, bytes: Buffer.byteLength(body) }));
if (process.argv[3] === "--print") process.stderr.write(body.slice(0, 3000));
