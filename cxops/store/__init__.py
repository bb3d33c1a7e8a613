"""The cxops store: SQLAlchemy models, Alembic migrations, the send ledger, history,
responses, tasks and notifications.

`ledger` (rows and their counts), `claims` (claim, record, recover), `waves` (wave
rows), `history` (who may be invited), `suppressions`, `responses`, `tasks`, `facts`
(the plain values follow-up rules read and write, so the store does not import them).
May import `channels` and below (messages, audience, spec) and the leaves; never the
wave path, the collector or follow-up. Importing this package imports SQLAlchemy and
Alembic's config, never Prefect.
"""

from cxops.store.claims import (
    claim_batch,
    mark_results,
    new_claim_id,
    recover_dead_claims,
    resend_in_doubt,
)
from cxops.store.db import Store, open_store, store_exists
from cxops.store.history import StoreHistory, load_history
from cxops.store.ledger import STATUSES, add_invitees, failed_reasons, wave_counts
from cxops.store.suppressions import REASONS, list_suppressions, suppress, suppression_reason
from cxops.store.waves import (
    WAVE_STATUSES,
    ensure_wave,
    get_wave,
    save_wave_summary,
    set_wave_status,
)

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
