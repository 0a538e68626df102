-- Webhooks (issue #13 §4): endpoints a workspace's owners and admins register, and a durable
-- delivery queue that every server process works through with FOR UPDATE SKIP LOCKED.
-- `webhook_deliveries` holds one row per event per endpoint (its state and when it is next
-- due); `webhook_attempts` one row per POST made, for `GET .../deliveries`.
CREATE TABLE webhooks (
    webhook_id     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id          UUID NOT NULL REFERENCES workspaces (ws_id) ON DELETE CASCADE,
    url            TEXT NOT NULL CHECK (length(url) <= 2048),
    events         TEXT[] NOT NULL,
    description    TEXT,
    secret_sealed  JSONB NOT NULL,
    enabled        BOOLEAN NOT NULL DEFAULT true,
    disabled_reason TEXT,
    created_by     UUID REFERENCES users (user_id) ON DELETE SET NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_ws_id_idx ON webhooks (ws_id);
CREATE INDEX webhooks_created_by_idx ON webhooks (created_by);

CREATE TABLE webhook_deliveries (
    delivery_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    webhook_id     UUID NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    event          VARCHAR(64) NOT NULL,
    data           JSONB NOT NULL,
    -- pending (due at next_attempt_at), delivered, failed (gave up after 24 h).
    status         VARCHAR(16) NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Events debounced per file share one pending, not yet attempted row per endpoint.
    debounce_key   TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at);
CREATE UNIQUE INDEX webhook_deliveries_debounce_key ON webhook_deliveries (webhook_id, debounce_key)
    WHERE status = 'pending' AND attempts = 0 AND debounce_key IS NOT NULL;

CREATE TABLE webhook_attempts (
    attempt_id     BIGSERIAL PRIMARY KEY,
    delivery_id    UUID NOT NULL REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
    webhook_id     UUID NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    attempt        INTEGER NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    status_code    INTEGER,
    duration_ms    INTEGER NOT NULL,
    error          TEXT,
    UNIQUE (delivery_id, attempt)
);
CREATE INDEX webhook_attempts_webhook_idx ON webhook_attempts (webhook_id, attempt_id);
