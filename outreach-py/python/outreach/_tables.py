"""Sources and results: a path, a list of dicts or a pandas DataFrame in; the same rows,
in the same order, with `sif_research`, `sif_personalized` and `sif_status` out
(`sif_sources` on request).

For in-memory sources the engine sees every cell as text (to guess the email column
and to write `out`), but the returned table is built from the caller's own objects, so
a DataFrame keeps its index and dtypes and a dict keeps its values. pandas is optional
and only imported when a path's result is returned as a DataFrame.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Dict, Hashable, Iterable, List, Mapping, Sequence, Union

from . import _outreach

RESEARCH_COLUMN: str = _outreach.RESEARCH_COLUMN
PERSONALIZED_COLUMN: str = _outreach.PERSONALIZED_COLUMN
STATUS_COLUMN: str = _outreach.STATUS_COLUMN
SOURCES_COLUMN: str = _outreach.SOURCES_COLUMN
NEW_COLUMNS = (RESEARCH_COLUMN, PERSONALIZED_COLUMN, STATUS_COLUMN, SOURCES_COLUMN)


def sources_cell(research: str) -> str:
    """The evidence URLs of a `sif_research` cell, one per line ("" for a fallback)."""
    if not research.startswith("{"):
        return ""
    try:
        return "\n".join(json.loads(research).get("sources") or [])
    except (ValueError, AttributeError):
        return ""


def new_values(result: Mapping[str, Any]) -> Dict[str, List[str]]:
    """Each new column's values, one per processed row."""
    research = list(result["research"])
    return {
        RESEARCH_COLUMN: research,
        PERSONALIZED_COLUMN: list(result["personalized"]),
        STATUS_COLUMN: list(result["status"]),
        SOURCES_COLUMN: [sources_cell(r) for r in research],
        **{name: list(v) for name, v in (result.get("drafts") or {}).items()},
    }

PathLike = Union[str, "os.PathLike[str]"]
Row = Mapping[Any, Any]


def is_dataframe(source: object) -> bool:
    # A DataFrame can only exist if pandas was imported: never import it just to check.
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(source, pd.DataFrame)


def pandas_or_none() -> Any:
    try:
        import pandas  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    return pandas


def cell_text(value: Any) -> str:
    """A cell as the engine and the output files see it: missing values are empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return ""
    pd = sys.modules.get("pandas")
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return ""
    return str(value)


class Table:
    """An in-memory source: text headers and cells for the engine, plus the original
    column labels to build the result from."""

    def __init__(self, headers: List[str], labels: List[Hashable], cells: List[List[str]]):
        self.headers = headers
        self.labels = labels
        self.cells = cells

    @classmethod
    def from_rows(cls, rows: Sequence[Row]) -> Table:
        labels: List[Hashable] = []
        seen: Dict[Hashable, None] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise _outreach.InvalidInputError(
                    f"row {i} is a {type(row).__name__}, not a dict: pass a list of dicts"
                )
            for key in row:
                if key not in seen:
                    seen[key] = None
                    labels.append(key)
        cells = [[cell_text(row.get(k)) for k in labels] for row in rows]
        return cls([str(k) for k in labels], labels, cells)

    @classmethod
    def from_frame(cls, frame: Any) -> Table:
        labels = list(frame.columns)
        cells = [
            [cell_text(v) for v in row] for row in frame.itertuples(index=False, name=None)
        ]
        return cls([str(k) for k in labels], labels, cells)

    def positions(
        self, out_headers: Iterable[str], new: Iterable[str] = ()
    ) -> List[Union[int, str]]:
        """For each output column: the input column's position, or the new column's name.

        Mirrors the core's `OutputLayout`: a sif name (or a draft column of this run, in
        `new`) always means the new column, any other name the first input column of
        that name.
        """
        first: Dict[str, int] = {}
        for i, h in enumerate(self.headers):
            first.setdefault(h, i)
        created = {*NEW_COLUMNS, *new}
        out: List[Union[int, str]] = []
        for name in out_headers:
            if name in created:
                out.append(name)
            else:
                out.append(first[name])
        return out


def rows_result(
    rows: Sequence[Row], table: Table, result: Mapping[str, Any]
) -> List[Dict[Any, Any]]:
    """The enriched rows as new dicts, keyed by the original keys, in input order."""
    values = new_values(result)
    plan = table.positions(result["headers"], values)
    out: List[Dict[Any, Any]] = []
    for i, row in enumerate(rows[: len(values[RESEARCH_COLUMN])]):
        new: Dict[Any, Any] = {}
        for p in plan:
            if isinstance(p, str):
                new[p] = values[p][i]
            else:
                label = table.labels[int(p)]
                new[label] = row.get(label)
        out.append(new)
    return out


def frame_result(frame: Any, table: Table, result: Mapping[str, Any]) -> Any:
    """A new DataFrame: the input's columns (same index and dtypes) and the new ones,
    restricted and ordered like the output file."""
    values = new_values(result)
    plan = table.positions(result["headers"], values)
    n = len(values[RESEARCH_COLUMN])
    inputs = [int(p) for p in plan if not isinstance(p, str)]
    base = frame.iloc[:n, inputs].copy()
    added = [p for p in plan if isinstance(p, str)]
    for name in added:
        base[name] = values[name]
    width = len(inputs)
    order: List[int] = []
    next_input = 0
    for p in plan:
        if isinstance(p, str):
            order.append(width + added.index(p))
        else:
            order.append(next_input)
            next_input += 1
    return base.iloc[:, order]


def text_table(headers: List[str], rows: List[List[str]], as_frame: bool) -> Any:
    """A path's enriched rows: a DataFrame of text when pandas is installed, else dicts."""
    pd = pandas_or_none() if as_frame else None
    if pd is not None:
        return pd.DataFrame(rows, columns=headers)
    return [dict(zip(headers, row)) for row in rows]
