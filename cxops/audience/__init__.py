"""The audience of a survey: source rows -> filter -> segments -> exclusions -> sample.

Importing this package is light: SQLAlchemy and pyarrow are imported only when a
SQL or Parquet source is read.
"""

from cxops.audience.contacts import BadRow, Contact, coerce, normalize_email
from cxops.audience.eligibility import EXCLUSION_REASONS, History, NoHistory
from cxops.audience.sample import RoundSampler, StratifiedSampler, allocate, rank
from cxops.audience.select import (
    OTHER_SEGMENT,
    Invitee,
    PlanGate,
    Tally,
    Waits,
    select_audience,
)
from cxops.audience.sources import expand_env, read_source

__all__ = [
    "EXCLUSION_REASONS",
    "OTHER_SEGMENT",
    "BadRow",
    "Contact",
    "History",
    "Invitee",
    "NoHistory",
    "PlanGate",
    "RoundSampler",
    "StratifiedSampler",
    "Tally",
    "Waits",
    "allocate",
    "coerce",
    "expand_env",
    "normalize_email",
    "rank",
    "read_source",
    "select_audience",
]
