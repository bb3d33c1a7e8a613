"""The project's flows, for hand-written deployments (`flows/wave.py:survey_wave`, …).

Each module re-exports a flow of the installed package, where it is defined once;
`cxops deploy` names those directly (`cxops.schedule.entrypoints:…`), so a project
made by `cxops init` needs no `flows/` folder of its own.
"""
