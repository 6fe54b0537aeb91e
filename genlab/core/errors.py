"""Errors a user can act on. The CLI prints their message without a traceback; the UI shows st.error."""


class GenLabError(Exception):
    """Base of every user-facing error: the message says what is wrong and what to change."""


class DataError(GenLabError, ValueError):
    """Data that cannot be used: a bad upload, an empty folder, an offline dataset, a wrong shape."""


class OfflineError(GenLabError, RuntimeError):
    """Something needs the network and this machine has none; the message says what to do instead."""
