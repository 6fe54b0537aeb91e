"""Optuna sweeps: search spaces, the sweep worker, and studies whose trials are normal runs."""
