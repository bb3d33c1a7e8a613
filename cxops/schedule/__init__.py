"""Running on a schedule: the Prefect environment cxops runs in, `deploy`, `up`, `init`, `status`.

This package sits on top of the others (like the CLI): it may import any layer,
and none imports it except the CLI. The flows it deploys and serves are reached
through one module, `cxops.schedule.entrypoints`.
"""
