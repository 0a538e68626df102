-- Account lifecycle, platform admins, readable audit and the workspace 2FA rule (issue #12).
--
-- users.deleted_at: the account asked to be deleted at that time; users.purge_after: when its
-- grace period (COLLAB_ACCOUNT_DELETION_GRACE_DAYS at the time of the request) ends. Logging in
-- before then clears both; after it a purge deletes the row (a login is refused meanwhile).
-- users.is_admin: a platform administrator, granted and revoked only from the CLI.
-- audit_logs.metadata: free-form context of an entry (method, device, reason, ...), scrubbed
-- of secrets by kernel/audit.py like old_value/new_value.
-- workspaces.require_mfa: members without TOTP are refused the workspace's sessions and
-- documents.
--
-- audit_logs.user_id (the actor) is already ON DELETE SET NULL since 0001: a purged account
-- leaves its audit trail behind with the actor NULL.
ALTER TABLE users ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN purge_after TIMESTAMPTZ;
ALTER TABLE users ADD CONSTRAINT users_deletion_pair
    CHECK ((deleted_at IS NULL) = (purge_after IS NULL));
ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT false;
-- The purge looks for accounts whose grace period is over.
CREATE INDEX users_purge_after_idx ON users (purge_after) WHERE purge_after IS NOT NULL;

ALTER TABLE audit_logs ADD COLUMN metadata JSONB;
-- Reads by target: a user's own security events, a session's log (deployments included).
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id, log_id DESC);

ALTER TABLE workspaces ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT false;
