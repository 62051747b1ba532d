"""One table builder for text and HTML output.

A :class:`Table` holds already formatted cells; :meth:`Table.to_text` and
:meth:`Table.to_html` render the same content, so the console report and the
notebook report never disagree. :class:`Report` strings tables and text lines
together.

Examples
--------
>>> t = Table(["Name", "Value"], [["a", "1.00"], ["bb", "22.50"]], title="Demo")
>>> print(t.to_text())
Demo:
 Name  Value
 a      1.00
 bb    22.50
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Table", "Report", "fmt_num", "ResultTable", "as_table"]


def fmt_num(value: float, digits: int = 4) -> str:
    """Format a number with ``digits`` significant digits, at most 2 decimals past them.

    Examples
    --------
    >>> fmt_num(251.40513), fmt_num(0.0655), fmt_num(float("nan"))
    ('251.4', '0.06550', '')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    v = float(value)
    if v == 0:
        return "0"
    mag = int(math.floor(math.log10(abs(v))))
    decimals = max(0, min(digits - 1 - mag, 6))
    return f"{v:.{decimals}f}"


@dataclass
class Table:
    """A titled table of formatted cells.

    Parameters
    ----------
    header : sequence of str
        Column headings.
    rows : sequence of sequence of str
        Cells, already formatted.
    title : str, optional
        Printed above the table.
    align : sequence of str, optional
        ``"l"`` or ``"r"`` per column; text columns (the first) default to left,
        the rest to right.
    """

    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    title: str = ""
    align: Sequence[str] = field(default_factory=list)

    def _align(self) -> list[str]:
        if self.align:
            return list(self.align)
        return ["l"] + ["r"] * (len(self.header) - 1)

    def to_text(self) -> str:
        """Plain-text rendering with aligned columns."""
        cells = [list(self.header)] + [list(r) for r in self.rows]
        widths = [max(len(str(row[j])) for row in cells) for j in range(len(self.header))]
        lines = [f"{self.title}:"] if self.title else []
        for row in cells:
            parts = []
            for j, cell in enumerate(row):
                cell = str(cell)
                parts.append(cell.ljust(widths[j]) if self._align()[j] == "l"
                             else cell.rjust(widths[j]))
            lines.append((" " + "  ".join(parts)).rstrip())
        return "\n".join(lines)

    def to_html(self) -> str:
        """HTML rendering (a ``<table>`` with a caption)."""
        al = self._align()
        style = {"l": "text-align:left", "r": "text-align:right"}
        out = ['<table class="mixedfit-table">']
        if self.title:
            out.append(f"<caption style='text-align:left'><b>{html.escape(self.title)}</b>"
                       "</caption>")
        out.append("<thead><tr>" + "".join(
            f"<th style='{style[al[j]]}'>{html.escape(str(h))}</th>"
            for j, h in enumerate(self.header)) + "</tr></thead><tbody>")
        for row in self.rows:
            out.append("<tr>" + "".join(
                f"<td style='{style[al[j]]}'>{html.escape(str(c))}</td>"
                for j, c in enumerate(row)) + "</tr>")
        out.append("</tbody></table>")
        return "".join(out)


@dataclass
class Report:
    """A sequence of text lines and tables, rendered as text or HTML.

    ``str(report)`` gives the text; notebooks show :meth:`_repr_html_`.
    """

    parts: list[str | Table] = field(default_factory=list)

    def add(self, part: str | Table) -> Report:
        """Append a line of text or a table; returns the report."""
        self.parts.append(part)
        return self

    def to_text(self) -> str:
        """The whole report as plain text."""
        out = []
        for part in self.parts:
            out.append(part.to_text() if isinstance(part, Table) else part)
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        out = ['<div class="mixedfit-report">']
        for part in self.parts:
            if isinstance(part, Table):
                out.append(part.to_html())
            elif part:
                out.append(f"<div style='font-family:monospace'>{html.escape(part)}</div>")
        out.append("</div>")
        return "".join(out)


def _formatter(name: Any) -> Callable[[Any], str]:
    """How a column of a result table is displayed: effective sample sizes and counts as
    integers, R-hat with 3 decimals, everything else with 4 significant digits."""
    key = name[-1] if isinstance(name, tuple) else name
    if key in ("ess_bulk", "ess_tail", "n_obs"):
        return lambda v: "" if v != v else f"{float(v):.0f}"
    if key == "r_hat":
        return lambda v: "" if v != v else f"{float(v):.3f}"
    return lambda v: "NaN" if v != v else fmt_num(v)


class ResultTable(pd.DataFrame):
    """A pandas DataFrame of results that displays its numbers rounded (4 significant
    digits, ESS as integers, R-hat to 3 decimals) and keeps them at full precision.

    Everything else is pandas: ``.loc``, arithmetic and saving see the full values.

    Examples
    --------
    >>> t = ResultTable({"mean": [251.40513, 0.0123456], "ess_bulk": [648.938724, 12.2]})
    >>> print(t)
          mean ess_bulk
    0    251.4      649
    1  0.01235       12
    >>> float(t.loc[0, "mean"])
    251.40513
    """

    _metadata: list[str] = []

    @property
    def _constructor(self) -> Callable[..., ResultTable]:
        return ResultTable

    def _formatters(self) -> dict[Any, Callable[[Any], str]]:
        return {col: _formatter(col) for col in self.columns
                if pd.api.types.is_float_dtype(self[col].dtype)}

    def __repr__(self) -> str:
        try:
            params = pd.io.formats.format.get_dataframe_repr_params()
        except AttributeError:  # pandas without it: the defaults
            params = {}
        return self.to_string(formatters=self._formatters(), **params)

    def _repr_html_(self) -> str | None:
        if not pd.get_option("display.notebook_repr_html"):
            return None
        return self.to_html(formatters=self._formatters(), notebook=True,
                            max_rows=pd.get_option("display.max_rows"),
                            max_cols=pd.get_option("display.max_columns"),
                            show_dimensions=pd.get_option("display.show_dimensions"))


def as_table(df: pd.DataFrame) -> ResultTable:
    """``df`` as a :class:`ResultTable` (its ``attrs`` kept)."""
    out = ResultTable(df)
    out.attrs = dict(df.attrs)
    return out
