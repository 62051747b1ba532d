"""Grouping factors: an integer level per row and the level labels, as R orders them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["level_label", "group_labels", "group_index"]


def level_label(value: Any) -> str:
    """Text of one level: integral floats without ``.0`` (1.0 -> "1"), like an int column.

    An integer grouping column with missing values is read as floats; its levels must
    keep the names they have as integers (and match integer codes in new data).
    """
    if isinstance(value, float | np.floating) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


def group_labels(data: pd.DataFrame, group: tuple[str, ...]) -> list[str]:
    parts = [[level_label(v) for v in data[g].tolist()] for g in group]
    return [":".join(vals) for vals in zip(*parts, strict=True)]


def group_index(data: pd.DataFrame, group: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Integer level of each row and the level labels, ordered like R's factor levels."""
    codes = []
    level_lists = []
    for name in group:
        col = data[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cat = col.cat.remove_unused_categories()
            codes.append(cat.cat.codes.to_numpy())
            level_lists.append([level_label(c) for c in cat.cat.categories])
        else:
            c, uniques = pd.factorize(col, sort=True)
            codes.append(c)
            level_lists.append([level_label(u) for u in uniques])
    if len(group) == 1:
        index, levels = codes[0].astype(np.int64), level_lists[0]
        return index, levels
    dims = tuple(len(lv) for lv in level_lists)
    flat = np.ravel_multi_index(tuple(codes), dims)
    uniq, index = np.unique(flat, return_inverse=True)
    combos = np.unravel_index(uniq, dims)
    labels = [
        ":".join(level_lists[k][combos[k][i]] for k in range(len(group))) for i in range(len(uniq))
    ]
    return index.astype(np.int64), labels
