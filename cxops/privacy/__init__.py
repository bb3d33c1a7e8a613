"""Privacy requests: erase a person (`cxops forget`), show what is stored (`export person`).

- `subject.py`: the person as the store knows them (normalized address, keyed hash).
- `erase.py`: their personal data out of every table, answers kept anonymously.
- `files.py`: their messages out of the outbox and the previews the project wrote.
- `access.py`: everything stored about them, as JSON (a subject-access request).
"""

from __future__ import annotations

from cxops.privacy.access import person_record
from cxops.privacy.erase import ErasureReport, forget_person
from cxops.privacy.subject import Subject

__all__ = ["ErasureReport", "Subject", "forget_person", "person_record"]
