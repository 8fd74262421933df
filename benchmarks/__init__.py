"""Benchmarks of hea_zoo: design quality, speed and scale (run `python benchmarks/run.py`)."""
