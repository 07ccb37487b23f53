"""Reproducible benchmarks of jasmin_access against the tools users would otherwise use.

Run ``python -m benchmarks`` (``make bench``) or ``python -m benchmarks --quick``
(``make bench-quick``); see ``docs/performance.md``.
"""
