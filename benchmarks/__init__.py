"""Benchmarks of hea_zoo, every study run by one harness: `python benchmarks/run.py --list`."""
