"""Benchmarks: run by `make bench`; each prints figures beside a baseline."""
