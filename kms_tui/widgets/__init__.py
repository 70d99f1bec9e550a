"""Reusable widgets and renderables (each carries its own DEFAULT_CSS)."""
