"""Webhooks: workspace endpoints told about events, through a durable PostgreSQL queue.

- `events`: the event names and the emitter type the services are given.
- `signing`, `ssrf`, `backoff`: pure (no I/O): the signature, which addresses are refused,
  when the next attempt is due.
- `store`: the only SQL on `webhooks`, `webhook_deliveries` and `webhook_attempts`.
- `service`: the decisions (who may manage endpoints, what is queued for whom).
- `delivery`: the workers that claim due deliveries (FOR UPDATE SKIP LOCKED) and POST them.
"""
