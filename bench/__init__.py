"""Synthetic data for benchmarks and demos."""
