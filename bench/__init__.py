"""Benchmarks: each measures regie against a baseline run in the same process and minute."""
