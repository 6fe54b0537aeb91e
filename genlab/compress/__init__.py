"""Smaller models from finished runs: pruning and distillation, each trained as a run of its own."""
