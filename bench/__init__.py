"""Benchmarks for progress-kit; run with ``python -m bench`` (see docs/performance.md)."""
