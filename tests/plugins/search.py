"""Shared pytest fixtures for the search area (owned by that area's tests)."""
