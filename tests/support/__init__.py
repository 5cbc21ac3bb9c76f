"""Helpers shared by several test modules (fixtures and the parts they start)."""
