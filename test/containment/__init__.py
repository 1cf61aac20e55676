"""Containment suite helpers (see test/e2e/test_containment.py)."""
