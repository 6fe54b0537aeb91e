"""Sharing runs with a team: HTML reports and Weights & Biases links and reports."""
