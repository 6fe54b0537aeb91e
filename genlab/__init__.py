"""GenLab engine: the one API that the UI, the CLI and the tests call."""

__version__ = "0.1.0"
