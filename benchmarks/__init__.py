"""Benchmarks: this project side by side with the tools people use today."""
