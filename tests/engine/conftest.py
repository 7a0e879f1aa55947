"""Fixtures of the overlay engine tests (defined in fixture_upstream.py, shared with the tests)."""

from fixture_upstream import fixture_patches, project, upstream  # noqa: F401
