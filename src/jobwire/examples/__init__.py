"""Example tasks and pages shipped with jobwire: ``jobwire serve --examples`` registers them.

Each example module has ``register(app) -> {path: html_file}``; one that answers more than
its page (the code-analysis example's trees and demo users) also has ``routes(app)``, the
routes to add beside the server's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..app import App

if TYPE_CHECKING:
    from starlette.routing import BaseRoute


def register(app: App, *, public_url: str | None = None) -> dict[str, Path]:
    """Register every example's tasks on ``app``; return the pages to serve. ``public_url``
    is this server's address as others reach it (``jobwire serve`` passes the one it binds):
    the video example's simulated provider, started in this process on the first
    generation, calls back there."""
    from .. import demo
    from . import code_analysis, tickets
    from .video.local import register_local

    pages: dict[str, Path] = {}
    demo.register(app)
    pages.update(tickets.register(app))
    pages.update(code_analysis.register(app))
    pages.update(register_local(app, public_url=public_url))
    return pages


def routes(app: App) -> list[BaseRoute]:
    """The examples' routes besides their pages, for the server ``create_app(app)`` made:

    ```python
    api = create_app(app, pages=register(app))
    api.router.routes.extend(routes(app))
    ```
    """
    from . import code_analysis

    return code_analysis.routes(app)
