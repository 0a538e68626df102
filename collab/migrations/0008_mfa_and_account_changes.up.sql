-- Two-factor login (TOTP), and email changes confirmed by a mailed link.

-- TOTP is on when set (other features, e.g. a workspace's "members must use 2FA", read it).
ALTER TABLE users ADD COLUMN mfa_enabled_at TIMESTAMPTZ;

-- One TOTP secret per user, sealed (AES-GCM, a key derived from the signing key). A new
-- enrolment replaces an unconfirmed one; `last_used_step` refuses a code's replay.
CREATE TABLE user_totp (
    user_id        UUID PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    secret_sealed  JSONB NOT NULL,
    confirmed_at   TIMESTAMPTZ,
    last_used_step BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Single-use recovery codes, stored as hashes only.
CREATE TABLE mfa_recovery_codes (
    code_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    code_hash  VARCHAR(255) NOT NULL,
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT mfa_recovery_codes_hash_key UNIQUE (user_id, code_hash)
);

-- An email change waits for its link: the new address rides with the single-use token.
ALTER TABLE account_tokens ADD COLUMN new_email VARCHAR(255);
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'change_email'));
