"""The data API of the UI and the CLI: built-in sets, uploads, and which server paths a config may name."""
