"""Tests of hea_zoo.data."""
