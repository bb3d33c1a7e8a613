"""`cxops sync`: the store's facts in a warehouse, incrementally, through dlt.

`tables.py` (the tables, documented in docs/warehouse.md), `checksums.py` (which blocks of
rows moved, counted by the database), `state.py` (the sums of the last complete sync: the
no-change check), `cursor.py` (the store through the driver's cursor), `rows.py` (store
rows as typed Arrow tables with fingerprints), `destinations.py` (URLs, the project's
list of destinations), `run.py` (one sync), `compact.py` (rewriting a destination's
files after an erasure), `project.py` (what the CLI, `forget`, `export person` and
schedules call).
"""
