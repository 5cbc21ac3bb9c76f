"""Jinja templates for the web app, shipped inside the wheel as the package bridge.templates."""
