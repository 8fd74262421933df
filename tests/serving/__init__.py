"""Tests of hea_zoo.serving."""
