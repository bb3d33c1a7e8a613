"""Closing the loop: follow-up rules to tasks, assignment, due dates, escalation,
digests, webhooks and loop measures.

The pure core (`category`, `rules`, `assign`, `sla`, `digest`, `measures`, `notify`'s
signing, `rows`) runs without a store or Prefect. One module per job does the I/O:
`apply` (rules to tasks), `escalation`, `webhooks`, `digest_mail`, `measures.loop_measures`,
`tasks` (list, close), with `mailing` (send a claimed batch, then record) shared by the
emails; `flows` wraps them in Prefect flows. May import every layer below it (spec …
store, the wave path, the collector) and the leaves; nothing below imports it.
"""

from cxops.followup.category import Category, response_category, score_category

__all__ = ["Category", "response_category", "score_category"]
