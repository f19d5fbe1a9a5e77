"""Read the GitHub pipe tables of a Markdown text, so tests assert on cells rather than on literal rows.

A table is a header row, a separator row (`| --- |`, `|---|`, `| :-: |`, ...) and the body rows after it, each line
starting with `|` (indentation allowed, as in a list item). Cells are split on unescaped `|` and stripped, and `\\|`
reads back as `|`. A body row with another number of cells than the header fails the test instead of being padded.
"""
import re

import pandas as pd

SEPARATOR_CELL = re.compile(r":?-+:?")


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|")
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def tables(text: str) -> list[pd.DataFrame]:
    """Every pipe table in text, in order: one DataFrame each, the header cells as column names, all cells str."""
    lines, found, i = text.splitlines(), [], 0
    while i + 1 < len(lines):
        header, separator = lines[i], lines[i + 1]
        if not (header.strip().startswith("|") and separator.strip().startswith("|")):
            i += 1
            continue
        columns, rule = _cells(header), _cells(separator)
        if len(rule) != len(columns) or not all(SEPARATOR_CELL.fullmatch(cell) for cell in rule):
            i += 1
            continue
        rows, i = [], i + 2
        while i < len(lines) and lines[i].strip().startswith("|"):
            row = _cells(lines[i])
            assert len(row) == len(columns), f"{len(row)} cells under a {len(columns)}-column header: {lines[i]!r}"
            rows.append(row)
            i += 1
        found.append(pd.DataFrame(rows, columns=columns, dtype=str))
    return found


def table_with(text: str, column: str) -> pd.DataFrame:
    """The first table in text that has this column."""
    for table in tables(text):
        if column in table.columns:
            return table
    raise AssertionError(f"no table with a column {column!r}; tables have: {[list(t.columns) for t in tables(text)]}")


def row_where(table: pd.DataFrame, column: str, value: str) -> dict:
    """The one row whose column cell is value, as {column: cell}."""
    matches = table[table[column] == value]
    assert len(matches) == 1, f"{len(matches)} rows with {column} = {value!r}; that column: {table[column].tolist()}"
    return matches.iloc[0].to_dict()
