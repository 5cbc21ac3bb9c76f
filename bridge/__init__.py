"""Trackops calendar bridge: mirror Trackops events, publish iCalendar feeds, create events."""

__version__ = "0.1.0"
