"""One file per schema step, oldest first (0001 adopts a genlab.db made before migrations existed)."""
