"""Tests of hea_zoo.models."""
