"""Benchmarks: `make bench`. Targets live here, never in timed tests."""
