"""The run store: runs, metrics, artifacts, leases and audit in one database, plus what live views read cheaply."""
