"""Exceptions and warnings raised by progress-kit."""

from __future__ import annotations

import pandas as pd

__all__ = ["DataValidationError", "DataValidationWarning", "PROBLEM_COLUMNS"]

PROBLEM_COLUMNS = ["file", "line", "column", "value", "reason", "severity"]


def format_problem(row: pd.Series | dict) -> str:
    """One problem as a line: ``observations.csv line 7: score 31 out of range 0-27 for PHQ-9``."""
    line = f" line {int(row['line'])}" if pd.notna(row["line"]) else ""
    return f"{row['file']}{line}: {row['reason']}"


class DataValidationError(ValueError):
    """Invalid input data. ``.problems`` is a DataFrame with one row per problem.

    Its columns are ``file``, ``line`` (1-based, header = line 1), ``column``, ``value``,
    ``reason`` and ``severity`` (``error`` or ``warning``).
    """

    def __init__(self, problems: pd.DataFrame, limit: int = 50):
        self.problems = problems.reset_index(drop=True)
        errors = self.problems[self.problems["severity"] == "error"]
        lines = [format_problem(r) for _, r in errors.head(limit).iterrows()]
        more = len(errors) - limit
        if more > 0:
            lines.append(f"... and {more} more problem(s); see .problems for all of them")
        super().__init__(f"{len(errors)} problem(s) in the data:\n" + "\n".join(lines))


class DataValidationWarning(UserWarning):
    """Something in the data was tidied (e.g. exact duplicates collapsed); the rows are listed."""
