ALTER TABLE workspaces DROP COLUMN IF EXISTS require_mfa;
DROP INDEX IF EXISTS audit_logs_resource_idx;
ALTER TABLE audit_logs DROP COLUMN IF EXISTS metadata;
DROP INDEX IF EXISTS users_purge_after_idx;
ALTER TABLE users DROP COLUMN IF EXISTS is_admin;
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_deletion_pair;
ALTER TABLE users DROP COLUMN IF EXISTS purge_after;
ALTER TABLE users DROP COLUMN IF EXISTS deleted_at;
