DELETE FROM account_tokens WHERE purpose = 'change_email';
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password'));
ALTER TABLE account_tokens DROP COLUMN IF EXISTS new_email;
DROP TABLE IF EXISTS mfa_recovery_codes;
DROP TABLE IF EXISTS user_totp;
ALTER TABLE users DROP COLUMN IF EXISTS mfa_enabled_at;
