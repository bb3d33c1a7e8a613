"""The one call planning makes: the wave's history with the contact policy applied.

`policy_history` reads `policy.yaml`, the cap setting, the ledger's contacts in
the longest window and the higher-priority surveys' audiences, and wraps the
store's history in a `PolicyHistory`. With no policy, no cap and no priorities
it returns the store's history unchanged.

Reminders ask the same object: `policy_history(store, base, survey, settings,
wave_id=WAVE, now=now)` for the wave, then `contact_exclusion(Contact(key, email,
0, stored_fields))` for each person due a reminder. The wave's own invitation
and reminders never count against it (the cap would otherwise stop every reminder).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cxops.audience.eligibility import History, NoHistory
from cxops.policy.eligibility import ContactLog, PolicyHistory, build_log
from cxops.policy.evaluate import ContactPolicy, Reservation
from cxops.policy.load import load_policy
from cxops.policy.priority import reservations_for
from cxops.policy.survey import check_cap_exempt, survey_facts
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.contact_log import contacts_since
from cxops.store.db import Store


def project_policy(settings: Settings, surveys: Sequence[Survey] | None = None) -> ContactPolicy:
    """The cap settings and the project's `policy.yaml` (SurveyError when it is invalid,
    ConfigError when `CXOPS_CONTACT_CAP_EXEMPT` is), knowing which of `surveys` (default:
    the project's) are outside the cap."""
    policy = _base_policy(settings)
    if policy.cap is not None and policy.cap_exempt is not None and surveys is None:
        surveys, _ = other_surveys(settings)
    return _with_exemptions(policy, surveys or (), settings.clock())


def _base_policy(settings: Settings) -> ContactPolicy:
    return ContactPolicy.build(
        load_policy(settings.project_dir),
        settings.cap,
        settings.holidays,
        check_cap_exempt(settings.contact_cap_exempt),
    )


def _with_exemptions(
    policy: ContactPolicy, surveys: Sequence[Survey], now: datetime
) -> ContactPolicy:
    return policy.counting_only((survey_facts(survey) for survey in surveys), now)


def other_surveys(settings: Settings) -> tuple[list[Survey], list[str]]:
    """Every valid survey of the project (without file checks), and notes on broken ones."""
    from cxops.spec.loader import read_survey, survey_files

    folder = settings.surveys_path
    if not folder.is_dir():
        return [], []
    surveys: list[Survey] = []
    notes: list[str] = []
    for path in survey_files(folder):
        result = read_survey(path, settings.project_dir, checks=False)
        if result.survey is None:
            notes.append(f"priority: {path.name} is invalid and reserves nobody")
        else:
            surveys.append(result.survey)
    return surveys, notes


def policy_history(
    store: Store | None,
    base: History | None,
    survey: Survey,
    settings: Settings,
    *,
    wave_id: str,
    now: datetime,
    surveys: Sequence[Survey] | None = None,
) -> History:
    """`base` (the store's history, None without a store) with the contact policy on top."""
    base = base if base is not None else NoHistory()
    policy = _base_policy(settings)
    if policy.empty:
        return base
    window = policy.longest_window()
    notes: list[str] = []
    if window is not None and surveys is None:
        surveys, notes = other_surveys(settings)
    policy = _with_exemptions(policy, [*(surveys or ()), survey], now)
    log = ContactLog()
    if store is not None and window is not None:
        entries = contacts_since(
            store,
            now - window,
            skip_wave=(survey.id, wave_id),
            with_fields=bool(policy.per_rules),
        )
        log = build_log(entries, policy, now)
    reservations: dict[str, list[Reservation]] = {}
    if window is not None:
        assert surveys is not None
        reservations, more = reservations_for(
            survey, surveys, settings.project_dir, now, window, settings.holidays
        )
        notes += more
    return PolicyHistory(
        base,
        policy,
        log,
        now,
        reservations=reservations,
        priority=survey.priority,
        survey=survey_facts(survey),
        notes=notes,
    )
