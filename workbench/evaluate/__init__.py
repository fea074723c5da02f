"""Evaluate stage: score a model on held-out tasks (classification, regression, generation)."""
