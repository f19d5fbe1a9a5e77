"""Benchmarks for cgan-lab (not part of the test suite): `python -m benchmarks.run`."""
