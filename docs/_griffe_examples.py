"""Griffe extension for the API reference: read ``Example:`` sections as examples.

fad's docstrings use Google style with an ``Example:`` section holding doctests.
Griffe's Google parser treats the singular title as an admonition (Markdown text), so
``>>>`` lines would be rendered as prose. This renames the title to ``Examples:``
before parsing, so they are rendered as code. Loaded from mkdocs.yml.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` to ``Examples:`` in every docstring."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
