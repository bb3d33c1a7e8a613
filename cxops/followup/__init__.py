"""Closing the loop: follow-up rules to tasks, assignment, due dates, escalation,
digests, webhooks and loop measures.

The pure core (`category`, `rules`, `assign`, `sla`, `digest`, `measures`, `notify`'s
signing) runs without a store or Prefect; `service` does the I/O, `flows` wraps it
in Prefect flows.
"""

from cxops.followup.category import Category, response_category, score_category

__all__ = ["Category", "response_category", "score_category"]
