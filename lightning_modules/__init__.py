"""One file per model family: its networks and its config-driven LightningModule."""
