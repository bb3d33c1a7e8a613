"""Outbound webhooks: what happened in the store, signed and posted to other systems.

`scan` finds the facts since each endpoint's cursor (responses completed, tasks created
and closed, unsubscribes) and queues one delivery per event and endpoint in the store's
outbox (`cxops.store.webhook_deliveries`); `run` posts the due ones (`post`, signed by
`signing` in the Standard Webhooks format) and retries failures on `retries`' schedule;
`admin` is `cxops webhooks status|retry`; `privacy` is what `forget` and `export person`
call; `flow` the every-minute loop. docs/webhooks.md is the contract.
"""
