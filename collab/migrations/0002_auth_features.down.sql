ALTER TABLE workspace_invitations DROP COLUMN IF EXISTS token_hash;
DROP TABLE IF EXISTS oauth_states;
DROP TABLE IF EXISTS account_tokens;
DROP INDEX IF EXISTS refresh_tokens_replaced_by_idx;
DROP INDEX IF EXISTS refresh_tokens_family_idx;
ALTER TABLE refresh_tokens
    DROP COLUMN IF EXISTS successor_sealed,
    DROP COLUMN IF EXISTS replaced_by,
    DROP COLUMN IF EXISTS used_at,
    DROP COLUMN IF EXISTS absolute_expires_at,
    DROP COLUMN IF EXISTS family_id;
ALTER TABLE users DROP COLUMN IF EXISTS tokens_valid_after;
