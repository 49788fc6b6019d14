"""``python -m jobwire.examples.tickets [sample-N | --train]``: print a ticket file as JSON
lines, or rewrite the shipped training set."""

from __future__ import annotations

from .generator import main

main()
