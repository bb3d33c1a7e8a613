"""The wave summary: one typed value from the planner to `--json` and the artifact.

docs/behaviour.md's shape, the same for `plan --json` and `run --json`. The planner makes it
(`summary_from_tally`), the send loop adds the ledger's counts (`with_counts`, a new
value), the flow publishes it (`summary_markdown`) and the CLI prints `as_dict()`.
It is read back from a dict only where it was stored: the wave row (`from_stored`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxops.audience import Tally
from cxops.wave_labels import wave_label


@dataclass(frozen=True)
class WaveSummary:
    survey: str
    wave: str
    audience: int = 0
    filtered_out: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    eligible: int = 0
    sampled: int = 0
    sent: int = 0
    in_doubt: int = 0
    failed: int = 0
    by_segment: dict[str, dict[str, int]] = field(default_factory=dict)
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    #: After sending: rows still pending / skipped at claim time, failures by reason.
    pending: int | None = None
    skipped: int | None = None
    #: Being sent by another live run of the same wave right now (not in doubt).
    in_flight: int | None = None
    failed_reasons: dict[str, dict[str, Any]] | None = None
    #: A dry run: how many invitations were rendered.
    dry_run: bool = False
    rendered: int | None = None
    #: `plan --invitees`: every invitee (key, segment, email).
    invitees: list[dict[str, str]] | None = None
    #: `plan`: the first people the contact policy held back, with rule and until when.
    held_back: list[dict[str, Any]] | None = None
    #: Interview studies: invited, accepted, booked, completed, goal (`cxops.interviews`).
    recruitment: dict[str, Any] | None = None
    #: After sending: the wave's status (`cxops.wave.status`).
    status: str | None = None
    #: A closed wave's final figures: closed_at, invited, answered, response_rate,
    #: reminders_sent (by step).
    closed: dict[str, Any] | None = None
    #: After sending: when the wave's first invitation went out (ISO, UTC).
    first_sent_at: str | None = None
    #: A send window's contacts whose time zone was missing or unknown: their window was
    #: read in the survey's zone (`cxops.gates.window.WindowGate.bad_timezone`).
    bad_timezone: int | None = None
    #: Reason -> rows a gate made wait or skipped (`cxops.gates`): at planning, those
    #: planned to wait; after sending, the ledger's rows still waiting or skipped by one.
    held: dict[str, int] | None = None
    #: After sending: pending rows whose `not_before` is still to come — {count, earliest,
    #: latest} (ISO, UTC); `cxops send-due` sends them when they are due.
    waiting: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """The wave as people are shown it: id, schedule slot, when it went out."""
        sent = self.first_sent_at
        return wave_label(self.wave, datetime.fromisoformat(sent) if sent else None)

    def noted(self, *notes: str) -> WaveSummary:
        """This summary with `notes` added."""
        return dataclasses.replace(self, notes=(*self.notes, *notes))

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape (optional figures only when known)."""
        data: dict[str, Any] = {
            "survey": self.survey,
            "wave": self.wave,
            "audience": self.audience,
            "filtered_out": self.filtered_out,
            "excluded": dict(self.excluded),
            "eligible": self.eligible,
            "sampled": self.sampled,
            "sent": self.sent,
            "in_doubt": self.in_doubt,
            "failed": self.failed,
            "by_segment": {name: dict(counts) for name, counts in self.by_segment.items()},
            "bad_rows": list(self.bad_rows),
            "notes": list(self.notes),
            "wave_label": self.label,
        }
        for name in (
            "pending",
            "skipped",
            "in_flight",
            "failed_reasons",
            "rendered",
            "invitees",
            "held_back",
            "recruitment",
            "status",
            "closed",
            "first_sent_at",
            "bad_timezone",
            "held",
            "waiting",
        ):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.dry_run:
            data["dry_run"] = True
        return data

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> WaveSummary:
        """A planned summary as `as_dict` stored it in the wave row."""
        known = {item.name for item in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["notes"] = tuple(values.get("notes", ()))
        return cls(**values)


def summary_from_tally(survey_id: str, wave_id: str, tally: Tally) -> WaveSummary:
    notes = tuple(tally.notes)
    if not tally.history_available:
        notes += ("no store yet: nobody is excluded for earlier invitations or unsubscribes",)
    return WaveSummary(
        survey=survey_id,
        wave=wave_id,
        audience=tally.audience,
        filtered_out=tally.filtered_out,
        excluded={reason: count for reason, count in tally.excluded.items() if count},
        eligible=tally.eligible,
        sampled=tally.sampled,
        by_segment={name: dict(counts) for name, counts in tally.by_segment.items()},
        bad_rows=[row.as_dict() for row in tally.bad_rows],
        notes=notes,
        held=dict(sorted(tally.holds.items())),
    )


def with_held(summary: WaveSummary, held: Mapping[str, int]) -> WaveSummary:
    """The summary with the ledger's rows held or skipped by a gate, by reason
    (`cxops.store.holds.held_counts`)."""
    return dataclasses.replace(summary, held=dict(held))


def with_counts(
    planned: WaveSummary, counts: Mapping[str, Any], reasons: dict[str, dict[str, Any]]
) -> WaveSummary:
    """The planned summary with the ledger's counts (`ledger.wave_counts`, failures).

    `sending` rows are another live run's batch in flight (dead runs' claims were
    recovered as `in_doubt` before counting): not in doubt.
    """
    in_doubt = counts.get("in_doubt", 0)
    in_flight = counts.get("sending", 0)
    first_sent = counts.get("first_sent_at")
    by_segment = {name: dict(figures) for name, figures in planned.by_segment.items()}
    for segment, by_status in counts["by_segment"].items():
        target = by_segment.setdefault(segment, {})
        target["sent"] = by_status.get("sent", 0)
        target["failed"] = by_status.get("failed", 0)
        target["in_doubt"] = by_status.get("in_doubt", 0)
    summary = dataclasses.replace(
        planned,
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        in_doubt=in_doubt,
        by_segment=by_segment,
        pending=counts.get("pending", 0),
        skipped=counts.get("skipped", 0),
        in_flight=in_flight,
        failed_reasons=reasons or None,
        first_sent_at=first_sent.isoformat() if first_sent is not None else None,
        waiting=counts.get("waiting"),
    )
    if in_flight:
        summary = summary.noted(
            f"{in_flight} being sent by another run of this wave right now (not in doubt)"
        )
    waiting = counts.get("waiting") or {}
    if waiting.get("count"):
        summary = summary.noted(
            f"{waiting['count']} waiting to be sent, from {waiting['earliest']} until "
            f"{waiting['latest']} (`cxops send-due` sends them when they are due)"
        )
    if in_doubt:
        summary = summary.noted(
            f"{in_doubt} in doubt (a run stopped mid-batch): not resent; "
            "use --resend-in-doubt to send them again"
        )
    return summary


def artifact_key(survey_id: str) -> str:
    """The key of the wave summary's Prefect artifact."""
    return f"wave-summary-{survey_id}"


def rate_text(rate: float | None) -> str:
    """A closed wave's response rate as the summaries print it (`n/a`: nobody was sent)."""
    return "n/a" if rate is None else f"{rate} %"


def summary_markdown(summary: WaveSummary) -> str:
    lines = [
        f"# Wave `{summary.wave}` of `{summary.survey}`",
        "",
        summary.label,
        "",
        f"audience {summary.audience} · filtered out {summary.filtered_out} · "
        f"eligible {summary.eligible} · sampled {summary.sampled} · sent {summary.sent} · "
        f"in doubt {summary.in_doubt} · failed {summary.failed} · bad rows {len(summary.bad_rows)}",
        "",
        "| segment | eligible | sampled | sent | in doubt | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, counts in sorted(summary.by_segment.items()):
        lines.append(
            f"| {name} | {counts.get('eligible', 0)} | {counts.get('sampled', 0)} | "
            f"{counts.get('sent', 0)} | {counts.get('in_doubt', 0)} | {counts.get('failed', 0)} |"
        )
    if summary.excluded:
        lines += ["", "| excluded because | people |", "| --- | ---: |"]
        lines += [f"| {reason} | {count} |" for reason, count in summary.excluded.items()]
    if summary.bad_timezone:
        lines += [
            "",
            f"{summary.bad_timezone} without a known time zone: their send window is in the "
            "survey's zone (bad_timezone)",
        ]
    if summary.held:
        lines += ["", "| held by a gate because | rows |", "| --- | ---: |"]
        lines += [f"| {reason} | {count} |" for reason, count in summary.held.items()]
    if summary.closed:
        c = summary.closed
        rate = rate_text(c["response_rate"])
        lines += [
            "",
            f"closed {c['closed_at']}: {c['answered']} of {c['invited']} invited answered "
            f"(response rate {rate})",
        ]
    if summary.recruitment:
        r = summary.recruitment
        lines += [
            "",
            f"recruitment: invited {r['invited']} · accepted {r['accepted']} · booked "
            f"{r['booked']} · completed {r['completed']} · goal {r['goal']}",
        ]
    return "\n".join(lines) + "\n"
