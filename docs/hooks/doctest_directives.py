"""MkDocs hook: strip doctest directives and markers from the code the pages show.

The examples in the pages and docstrings are doctests (pytest runs them with
``--doctest-glob='*.md'`` and ``--doctest-modules``), and some need a directive
such as ``# doctest: +ELLIPSIS``. A reader has no use for it: this hook removes the
directives from the Markdown of each page before it is rendered, and from the
highlighted HTML of the docstrings mkdocstrings renders (the API reference). A
continuation line holding nothing but a directive (``... # doctest: +ELLIPSIS``)
is removed with it, and doctest's ``<BLANKLINE>`` (an empty line of an expected
output, as ``docs/render_outputs.py`` writes the outputs it pastes) is shown as the
empty line it stands for. A ``python`` code block that opens with a ``>>>`` prompt
is shown as a console session (``pycon``): the code highlighted, the output as
printed text.

Registered in ``mkdocs.yml`` under ``hooks:``.
"""

from __future__ import annotations

import re
from typing import Any

#: ``# doctest: +ELLIPSIS``, ``# doctest: +NORMALIZE_WHITESPACE, +SKIP``...
_DIRECTIVE = r"#\s*doctest:\s*[+-][A-Z_]+(?:\s*,?\s*[+-][A-Z_]+)*"

#: a prompt line ending in a directive, in Markdown
_MARKDOWN = re.compile(rf"^(?P<code>[ \t]*(?:>>>|\.\.\.).*?)[ \t]*{_DIRECTIVE}[ \t]*$",
                       re.MULTILINE)

#: the same in Pygments' HTML: a comment span holding the directive, and the
#: whitespace (plain or in a ``w`` span) before it
_HTML = re.compile(rf'(?:<span class="w">[ \t]*</span>|[ \t]*)'
                   rf'<span class="c1">{_DIRECTIVE}[ \t]*</span>')


#: doctest's marker of an empty line in an expected output
_BLANKLINE = re.compile(r"^([ \t]*)<BLANKLINE>[ \t]*$", re.MULTILINE)


#: a python block that is a console session
_SESSION = re.compile(r"^(?P<fence>[ \t]*(?:```|~~~)[ \t]*)(?:python|py)[ \t]*\n(?=[ \t]*>>>)",
                      re.MULTILINE)


def strip_markdown(markdown: str) -> str:
    """``markdown`` with the doctest directives of its prompt lines removed,
    ``<BLANKLINE>`` markers as empty lines, and console sessions marked ``pycon``.

    >>> strip_markdown(">>> print(x)  # doctest: +ELLIPSIS\\nabc\\n")
    '>>> print(x)\\nabc\\n'
    >>> strip_markdown(">>> f(1,\\n...   2)\\n... # doctest: +ELLIPSIS\\nout\\n")
    '>>> f(1,\\n...   2)\\nout\\n'
    >>> strip_markdown("a\\n<BLANKLINE>\\nb\\n")
    'a\\n\\nb\\n'
    >>> strip_markdown("```python\\n>>> 1 + 1\\n2\\n```\\n")
    '```pycon\\n>>> 1 + 1\\n2\\n```\\n'
    """
    out = []
    for line in markdown.splitlines(keepends=True):
        stripped = _MARKDOWN.sub(r"\g<code>", line)
        if stripped != line and stripped.strip() == "...":
            continue  # the line held only the directive
        out.append(stripped)
    return _SESSION.sub(r"\g<fence>pycon\n", _BLANKLINE.sub("", "".join(out)))


def strip_html(html: str) -> str:
    """``html`` with the doctest directives of highlighted code removed.

    >>> strip_html('<span class="n">x</span><span class="w">  </span>'
    ...            '<span class="c1"># doctest: +ELLIPSIS</span>')
    '<span class="n">x</span>'
    """
    if "doctest:" not in html:
        return html
    return _HTML.sub("", html)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return strip_markdown(markdown)


def on_page_content(html: str, **kwargs: Any) -> str:
    return strip_html(html)
