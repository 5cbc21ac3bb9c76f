"""The Trackops API: the HTTP client, its pacing, and the JSON -> record readers."""
