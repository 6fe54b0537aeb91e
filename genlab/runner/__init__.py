"""Jobs and workers: start a run's process, train it with Lightning, checkpoint, resume and fine-tune."""
