"""``python -m jobwire.examples.video [--port N] [...]``: run the simulated video provider."""

from __future__ import annotations

from .provider import main

main()
