"""Data modules: one LightningDataModule per file, plus tokenizers and intake checks."""
