"""The follow-up's pages, served by the collector: a task's signed page (`task`, `/t/…`,
its words in `task_strings`) and one assignee's list (`my_tasks`, `/m/…`).

They sit in the follow-up layer, above the collector, so they may use both; the collector
never imports them: `cxops.followup.collector.create_collector` hands their routers to
`cxops.collect.create_app`.
"""
