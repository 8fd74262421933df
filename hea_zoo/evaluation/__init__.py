"""Evaluation: the study's protocol (experiments), its metrics, figures and report, and the
whole reproduction."""
