"""Fuzz and fault-injection suite: hostile files for every reader, kills for every writer.

See docs/robustness.md. ``FUZZ_PROFILE=nightly pytest tests/fuzz`` runs the long campaign.
"""
