// Read one .ics file with ICAL.js (Thunderbird's parser) and print each event's UID, start and
// end as JSON: {uid: [start, end]}, instants as UTC "YYYY-MM-DDTHH:MM:SSZ", dates as
// "YYYY-MM-DD", a floating time as "floating ...". Run by tests/test_feed_clients.py.
//
// Each TZID is resolved through the feed's own VTIMEZONE components, registered first, as
// Thunderbird and Lightning do for a subscribed calendar.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

function shown(time) {
  if (time.isDate) {
    return time.toString();
  }
  if (time.zone === ICAL.Timezone.localTimezone || !time.zone) {
    return `floating ${time.toString()}`;
  }
  return new Date(time.toUnixTime() * 1000).toISOString().replace(".000Z", "Z");
}

const calendar = new ICAL.Component(ICAL.parse(readFileSync(process.argv[2], "utf8")));
for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(vtimezone));
}
const found = {};
for (const vevent of calendar.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(vevent);
  // endDate is DTEND, or the start (plus DURATION) when there is none, as RFC 5545 reads it.
  found[event.uid] = [shown(event.startDate), shown(event.endDate)];
}
process.stdout.write(JSON.stringify(found));
