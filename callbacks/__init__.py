"""Trainer callbacks, one job each, acting on rank zero."""
