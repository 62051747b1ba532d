"""MkDocs hook: links between the notebooks and the pages.

The notebooks under ``docs/notebooks`` link to the pages as Jupyter and GitHub read
them (``../results.md``, ``glmm.ipynb``). mkdocs-jupyter hands MkDocs HTML, whose
links MkDocs neither rewrites nor checks: this hook points each relative link of a
notebook page to the page it names (``../results.html``), and reports a link to a
file that is not in the site as a warning (an error under ``--strict``).

Registered in ``mkdocs.yml`` under ``hooks:``.
"""

from __future__ import annotations

import logging
import posixpath
import re
from typing import Any

log = logging.getLogger("mkdocs.hooks.notebook_links")

_LINK = re.compile(r'href="(?P<target>[^":#?]+\.(?:md|ipynb))(?P<anchor>#[^"]*)?"')


def on_page_content(html: str, page: Any, files: Any, **kwargs: Any) -> str:
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    here = posixpath.dirname(page.file.src_uri)

    def rewrite(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(here, match["target"]))
        file = files.get_file_from_path(target)
        if file is None:
            log.warning("%s links to %s, which is not in the docs", page.file.src_uri,
                        match["target"])
            return match[0]
        return f'href="{file.url_relative_to(page.file)}{match["anchor"] or ""}"'

    return _LINK.sub(rewrite, html)
