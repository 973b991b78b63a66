"""Benchmarks that print figures: each compares our path against a baseline measured in the same run (a ratio)."""
