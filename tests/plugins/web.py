"""Shared pytest fixtures for the web area (owned by that area's tests)."""
