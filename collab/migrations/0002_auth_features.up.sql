-- What accounts need beyond the diagram: refresh-token families, single-use mail tokens,
-- OAuth state, invitation link tokens, and a per-user cut-off for issued access tokens.

ALTER TABLE users
    -- Access tokens issued before this instant are refused (logout-all, reset, deactivation).
    ADD COLUMN tokens_valid_after TIMESTAMPTZ NOT NULL DEFAULT to_timestamp(0);

ALTER TABLE refresh_tokens
    ADD COLUMN family_id UUID,
    ADD COLUMN absolute_expires_at TIMESTAMPTZ,
    ADD COLUMN used_at TIMESTAMPTZ,
    ADD COLUMN replaced_by UUID REFERENCES refresh_tokens (token_id) ON DELETE SET NULL,
    -- The successor token, sealed with a key only the holder of this token can derive, so
    -- two tabs refreshing at once both receive it during the grace period.
    ADD COLUMN successor_sealed BYTEA;
UPDATE refresh_tokens SET family_id = token_id, absolute_expires_at = expires_at;
ALTER TABLE refresh_tokens
    ALTER COLUMN family_id SET NOT NULL,
    ALTER COLUMN family_id SET DEFAULT gen_random_uuid(),
    ALTER COLUMN absolute_expires_at SET NOT NULL;
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_replaced_by_idx ON refresh_tokens (replaced_by);

CREATE TABLE account_tokens (
    token_id   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    purpose    VARCHAR(30) NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    token_hash VARCHAR(255) NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT account_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

CREATE TABLE oauth_states (
    state_hash    VARCHAR(255) PRIMARY KEY,
    provider      VARCHAR(50) NOT NULL,
    code_verifier VARCHAR(255) NOT NULL,
    redirect_uri  VARCHAR(500) NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_states_expiry_idx ON oauth_states (expires_at);

ALTER TABLE workspace_invitations ADD COLUMN token_hash VARCHAR(255);
UPDATE workspace_invitations SET token_hash = encode(sha256(gen_random_uuid()::text::bytea), 'hex')
    WHERE token_hash IS NULL;
ALTER TABLE workspace_invitations
    ALTER COLUMN token_hash SET NOT NULL,
    ADD CONSTRAINT workspace_invitations_token_key UNIQUE (token_hash);
