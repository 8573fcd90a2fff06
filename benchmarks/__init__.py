"""Benchmarks and studies of skinseg; run from the repository root as
``python -m benchmarks.NAME``."""
