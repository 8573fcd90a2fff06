"""Errors raised while checking a dataset."""

from __future__ import annotations

from collections import defaultdict

MAX_LISTED = 20


class DataValidationError(ValueError):
    """A dataset failed its checks. The message lists every problem found, grouped by kind."""


class ProblemReport:
    """Collects problems per kind so that one error can list them all.

    Example: ``report.add("missing mask", "IMD003: expected .../IMD003_lesion.bmp")``.
    """

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.problems: dict[str, list[str]] = defaultdict(list)

    def add(self, kind: str, detail: str) -> None:
        self.problems[kind].append(detail)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def format(self) -> str:
        total = sum(len(v) for v in self.problems.values())
        lines = [f"{self.dataset}: {total} problem(s) found; nothing was loaded."]
        for kind, details in self.problems.items():
            lines.append(f"- {kind} ({len(details)}):")
            lines.extend(f"    {d}" for d in details[:MAX_LISTED])
            if len(details) > MAX_LISTED:
                lines.append(f"    ... and {len(details) - MAX_LISTED} more")
        return "\n".join(lines)

    def raise_if_any(self) -> None:
        if self:
            raise DataValidationError(self.format())
