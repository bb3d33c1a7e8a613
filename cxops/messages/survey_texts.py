"""A survey's customer-facing texts for email templates, one context per locale.

Templates see `survey` (`id`, `name`, `kind`, `title`), `question` (the main
question: `text`, `labels` … in the recipient's locale) and `interview` (`consent`,
`incentive` … localized). Each is built once per locale and then shared by every
recipient of that locale: the renderer groups recipients by the identity of what
they share (see `cxops.messages.render`).
"""

from __future__ import annotations

from typing import Any

from cxops.expr import references
from cxops.spec.models import Survey, question_scale
from cxops.spec.texts import pick, title_for


class SurveyTexts:
    """The survey, question and interview contexts of `survey`, per resolved locale."""

    def __init__(self, survey: Survey) -> None:
        self.survey = survey
        self._declared = tuple(survey.invitation.locales)
        self._cache: dict[str, tuple[dict[str, Any], dict[str, Any] | None, bool]] = {}
        self._interviews: dict[str, dict[str, Any] | None] = {}

    def _entry(self, locale: str) -> tuple[dict[str, Any], dict[str, Any] | None, bool]:
        found = self._cache.get(locale)
        if found is None:
            survey = self.survey
            context = {
                "id": survey.id,
                "name": survey.name,
                "kind": survey.kind,
                "title": title_for(survey.title, survey.kind, locale, self._declared),
            }
            question = self._question(locale)
            fixed = (
                question is not None and not references(question["text"], expression=False).names
            )
            found = self._cache[locale] = (context, question, fixed)
        return found

    def survey_context(self, locale: str) -> dict[str, Any]:
        return self._entry(locale)[0]

    def question_context(self, locale: str) -> dict[str, Any] | None:
        """The main question in `locale` (None for a survey without one)."""
        return self._entry(locale)[1]

    def question_text_fixed(self, locale: str) -> bool:
        """Whether the question's text in `locale` has no placeholders (render it once)."""
        return self._entry(locale)[2]

    def _question(self, locale: str) -> dict[str, Any] | None:
        question = self.survey.main_question
        if question is None:
            return None
        scale = question_scale(question)
        low, high = scale if scale is not None else (None, None)
        points = list(range(scale[0], scale[1] + 1)) if scale is not None else []
        labels = getattr(question, "labels", None) or {}
        return {
            "id": question.id,
            "type": question.type,
            "text": pick(question.text, locale, self._declared),
            "required": question.required,
            "min": low,
            "max": high,
            "scale": points,
            "labels": {k: pick(v, locale, self._declared) for k, v in labels.items()},
        }

    def interview_context(self, locale: str) -> dict[str, Any] | None:
        if locale not in self._interviews:
            self._interviews[locale] = self._interview(locale)
        return self._interviews[locale]

    def _interview(self, locale: str) -> dict[str, Any] | None:
        interview = self.survey.interview
        if interview is None:
            return None
        incentive = interview.incentive
        return {
            "goal": interview.goal,
            "batch": interview.batch,
            "duration": str(interview.duration),
            "duration_minutes": int(interview.duration.approx_timedelta().total_seconds() // 60),
            "incentive": pick(incentive, locale, self._declared) if incentive else None,
            "booking_url": interview.booking_url,
            "consent": pick(interview.consent, locale, self._declared),
        }
