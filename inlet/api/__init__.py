"""The HTTP API (``inlet serve``): a FastAPI application over the ``inlet`` facade, for apps
that upload files, follow jobs and search over HTTP. Routes, shapes and errors are described in
the README ("HTTP API") and at ``/docs`` of a running server.

    >>> from inlet.api import create_app
    >>> app = create_app()  # doctest: +SKIP  (serve it with uvicorn, or run `inlet serve`)
"""

from inlet.api.app import check_bind, create_app, is_loopback

__all__ = ["check_bind", "create_app", "is_loopback"]
