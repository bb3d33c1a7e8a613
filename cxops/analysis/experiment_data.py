"""What the invitation experiment's figures are computed from: the store's counts by wave
and variant (`sends.variant`), read in one snapshot. Rows without a variant (waves before
the experiment, surveys without one) are not in them."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.engine import Connection

from cxops.analysis.data import answer_value, parse_value
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.models import Response, Send

_sends: Any = Send.__table__
_responses: Any = Response.__table__

Cell = tuple[str, str]


@dataclass
class ExperimentData:
    """Counts by (wave, variant)."""

    #: Invitations that went out (step 0, sent).
    invited: Counter[Cell] = field(default_factory=Counter)
    #: (wave, variant, status) -> confirmed answers not suspect (`complete`, `partial`).
    statuses: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: The main question's scores: (wave, variant) -> score -> count.
    scores: dict[Cell, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def variants(self) -> list[str]:
        """Every variant with an invitation, by name."""
        return sorted({variant for _, variant in self.invited})


def load_experiment_data(store: Store, survey: Survey) -> ExperimentData:
    """The survey's counts by wave and variant."""
    with store.connect() as conn:
        return read_experiment(conn, survey)


def read_experiment(conn: Connection, survey: Survey) -> ExperimentData:
    data = ExperimentData()
    s, r = _sends.c, _responses.c
    rows = conn.execute(
        select(s.wave_id, s.variant, func.count())
        .where(s.survey_id == survey.id, s.step == 0, s.status == "sent", s.variant.is_not(None))
        .group_by(s.wave_id, s.variant)
    ).all()
    data.invited = Counter({(wave, variant): count for wave, variant, count in rows})
    if not data.invited:
        return data
    main = survey.main_question
    score = (
        answer_value(main.id, conn.dialect.name).label("score")
        if main is not None
        else func.null().label("score")
    )
    # A response's send is the message it answered (the invitation or a reminder):
    # a reminder's row carries its invitation's variant.
    rows = conn.execute(
        select(s.wave_id, s.variant, r.status, score, func.count())
        .select_from(_responses.join(_sends, _sends.c.send_id == r.send_id))
        .where(
            r.survey_id == survey.id,
            r.confirmed_at.is_not(None),
            r.suspect.is_(false()),
            s.variant.is_not(None),
        )
        .group_by(s.wave_id, s.variant, r.status, score)
    ).all()
    for wave, variant, status, raw, count in rows:
        data.statuses[(wave, variant, status)] += count
        value = parse_value(raw)
        if isinstance(value, int) and not isinstance(value, bool):
            data.scores[(wave, variant)][value] += count
    return data
