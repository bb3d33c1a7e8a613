"""The cxops store: SQLAlchemy models, Alembic migrations, the send ledger, history,
responses, tasks and notifications.

May import `channels` and below (messages, audience, spec) and the leaves; never the
wave path, the collector or follow-up (`facts` holds the plain values follow-up rules
read and write, so the store does not import them). Importing this package imports
SQLAlchemy and Alembic's config, never Prefect.
"""

from cxops.store.db import Store, open_store, store_exists
from cxops.store.history import StoreHistory, load_history
from cxops.store.ledger import (
    STATUSES,
    WAVE_STATUSES,
    add_invitees,
    claim_batch,
    ensure_wave,
    failed_reasons,
    get_wave,
    mark_results,
    new_claim_id,
    recover_dead_claims,
    resend_in_doubt,
    save_wave_summary,
    set_wave_status,
    wave_counts,
)
from cxops.store.suppressions import REASONS, list_suppressions, suppress, suppression_reason

__all__ = [
    "REASONS",
    "STATUSES",
    "WAVE_STATUSES",
    "Store",
    "StoreHistory",
    "add_invitees",
    "claim_batch",
    "ensure_wave",
    "failed_reasons",
    "get_wave",
    "list_suppressions",
    "load_history",
    "mark_results",
    "new_claim_id",
    "open_store",
    "recover_dead_claims",
    "resend_in_doubt",
    "save_wave_summary",
    "set_wave_status",
    "store_exists",
    "suppress",
    "suppression_reason",
    "wave_counts",
]
