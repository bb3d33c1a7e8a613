"""One wave of a survey, end to end: the wave id, planning into the ledger, claiming,
rendering a batch, sending and recording, the summary, and the Prefect flow.

`ids` (the wave id, `WaveContext`: survey, settings, wave id and start built once),
`plan` (who is invited, read-only), `prepare` (into the ledger), `send` (one claimed
batch), `deliver` (send and record with the in-doubt rule, shared with follow-ups),
`summary` (`WaveSummary`), `status` (the wave's status lifecycle), `dry_run`,
`preview`, `flow` (the only module here that imports Prefect at the top), `run`
(what the CLI calls).

It may import `spec`, `audience`, `messages`, `channels` and `store`; never `collect`,
`followup` or `analysis`. Importing this package imports nothing else.
"""
