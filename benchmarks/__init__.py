"""Benchmarks of progress-client: strategy frontier, live requests, client overhead, scale.

Run them with ``python benchmarks/run.py`` (``--quick`` for a short run); results land in
``benchmarks/results/``. Not part of the installed package.
"""
