"""The REST server (top layer): `python -m genlab serve --run ID ...` puts finished runs behind HTTP.

app.py builds the FastAPI app, deps.py holds keys, rate limit and the model lookup, text.py and
images.py the model routes, runner.py starts uvicorn (loopback only unless API keys exist).
"""

from genlab.serve.app import create_app
from genlab.serve.runner import LOOPBACK, bind_host, run_server

__all__ = ["LOOPBACK", "bind_host", "create_app", "run_server"]
