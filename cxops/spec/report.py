"""The survey's optional `report:` block, and which contact columns reports read.

```yaml
report:
  revenue: mrr                                  # weighs themes by revenue at stake
  outcome: {column: status, churned: churned}   # did closing the loop keep detractors?
```
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReportOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1, description="Source column holding the customer's status.")
    churned: str | int | bool = Field(description="The value of `column` that means churned.")


class ReportSettings(BaseModel):
    """How `cxops report` weighs and follows up this survey's answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    revenue: str | None = Field(
        default=None, min_length=1, description="Source column of revenue, e.g. mrr."
    )
    outcome: ReportOutcome | None = None


def report_columns(survey: Any) -> list[str]:
    """The contact columns the report reads from the send ledger's contact snapshot
    (revenue, then the outcome column), so a ledger that keeps only the columns its
    consumers use can keep these."""
    report: ReportSettings | None = getattr(survey, "report", None)
    if report is None:
        return []
    columns = [report.revenue] if report.revenue else []
    if report.outcome is not None and report.outcome.column not in columns:
        columns.append(report.outcome.column)
    return columns
