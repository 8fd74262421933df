"""Tests of hea_zoo.evaluation."""
