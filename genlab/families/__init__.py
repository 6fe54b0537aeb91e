"""Torch-free config classes of each model family (the schema the UI form and the CLI validate)."""
