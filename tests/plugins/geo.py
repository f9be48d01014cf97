"""Shared pytest fixtures for the geo area (owned by that area's tests)."""
