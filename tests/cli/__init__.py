"""Tests of hea_zoo.cli (hea_zoo/cli.py) and the example scripts that call it."""
