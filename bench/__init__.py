"""Benchmarks, run as scripts (`python bench/<name>.py`); a package so that `lint-imports` checks their imports."""
