"""Shared pytest fixtures for the scrapers area (owned by that area's tests)."""
