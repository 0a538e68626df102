-- The data model of shared/seeds/001 (the ER diagram), with what a real schema needs:
-- NOT NULL, defaults, CHECKs for roles and statuses, foreign keys with deliberate
-- ON DELETE rules, unique constraints and an index on every lookup path.
--
-- Conventions:
--   * TIMESTAMP in the diagram is TIMESTAMPTZ here: every time is an instant, served as UTC.
--   * Ownership cascades (deleting a user deletes what they own); "done by" references
--     (granted_by, audit actors) become NULL so history survives.
--   * updated_at is maintained by the database (trigger), never by the application.

CREATE FUNCTION collab_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE users (
    user_id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email             VARCHAR(255) NOT NULL,
    password_hash     VARCHAR(255),               -- NULL for accounts that only use OAuth
    username          VARCHAR(100) NOT NULL,
    first_name        VARCHAR(100),
    last_name         VARCHAR(100),
    profile_image_url VARCHAR(500),
    email_verified    BOOLEAN NOT NULL DEFAULT false,
    is_active         BOOLEAN NOT NULL DEFAULT true,
    oauth_provider    VARCHAR(50),
    oauth_provider_id VARCHAR(255),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login        TIMESTAMPTZ,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_format CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9_]{3,50}$'),
    CONSTRAINT users_oauth_pair CHECK ((oauth_provider IS NULL) = (oauth_provider_id IS NULL)),
    CONSTRAINT users_can_sign_in CHECK (password_hash IS NOT NULL OR oauth_provider IS NOT NULL)
);
-- Case-insensitive uniqueness: "Alice@x.org" and "alice@x.org" are one account.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_oauth_identity_key ON users (oauth_provider, oauth_provider_id)
    WHERE oauth_provider IS NOT NULL;
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION collab_touch_updated_at();

CREATE TABLE workspaces (
    ws_id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        VARCHAR(255) NOT NULL CHECK (length(btrim(name)) > 0),
    description TEXT,
    owner_id    UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    is_public   BOOLEAN NOT NULL DEFAULT false,
    is_template BOOLEAN NOT NULL DEFAULT false,
    status      VARCHAR(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_active TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX workspaces_owner_idx ON workspaces (owner_id);
CREATE INDEX workspaces_public_idx ON workspaces (created_at DESC) WHERE is_public;
CREATE INDEX workspaces_template_idx ON workspaces (created_at DESC) WHERE is_template;
CREATE TRIGGER workspaces_touch BEFORE UPDATE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION collab_touch_updated_at();

CREATE TABLE workspace_permissions (
    ws_id      UUID NOT NULL REFERENCES workspaces (ws_id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role       VARCHAR(20) NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    granted_by UUID REFERENCES users (user_id) ON DELETE SET NULL,
    status     VARCHAR(20) NOT NULL DEFAULT 'active'
               CHECK (status IN ('active', 'suspended')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (ws_id, user_id)
);
CREATE INDEX workspace_permissions_user_idx ON workspace_permissions (user_id);
CREATE INDEX workspace_permissions_granted_by_idx ON workspace_permissions (granted_by);
CREATE TRIGGER workspace_permissions_touch BEFORE UPDATE ON workspace_permissions
    FOR EACH ROW EXECUTE FUNCTION collab_touch_updated_at();

CREATE TABLE workspace_invitations (
    invitation_id   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id           UUID NOT NULL REFERENCES workspaces (ws_id) ON DELETE CASCADE,
    invited_by      UUID REFERENCES users (user_id) ON DELETE SET NULL,
    invited_user_id UUID REFERENCES users (user_id) ON DELETE CASCADE,
    invited_email   VARCHAR(255),
    role            VARCHAR(20) NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    status          VARCHAR(20) NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    expires_at      TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT workspace_invitations_target
        CHECK (invited_user_id IS NOT NULL OR invited_email IS NOT NULL)
);
CREATE INDEX workspace_invitations_ws_idx ON workspace_invitations (ws_id, status);
CREATE INDEX workspace_invitations_user_idx ON workspace_invitations (invited_user_id);
CREATE INDEX workspace_invitations_email_idx ON workspace_invitations (lower(invited_email));
CREATE INDEX workspace_invitations_invited_by_idx ON workspace_invitations (invited_by);
CREATE TRIGGER workspace_invitations_touch BEFORE UPDATE ON workspace_invitations
    FOR EACH ROW EXECUTE FUNCTION collab_touch_updated_at();

CREATE TABLE sessions (
    session_id  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        VARCHAR(255) NOT NULL CHECK (length(btrim(name)) > 0),
    description TEXT,
    language    VARCHAR(100) NOT NULL,
    framework   VARCHAR(100),
    is_dynamic  BOOLEAN NOT NULL DEFAULT false,
    owner_id    UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    status      VARCHAR(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_active TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sessions_owner_idx ON sessions (owner_id);
CREATE TRIGGER sessions_touch BEFORE UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION collab_touch_updated_at();

CREATE TABLE session_participants (
    participant_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id     UUID NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    user_id        UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    email          VARCHAR(255),
    role           VARCHAR(20) NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    joined_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_active    TIMESTAMPTZ NOT NULL DEFAULT now(),
    is_active      BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT session_participants_once UNIQUE (session_id, user_id)
);
CREATE INDEX session_participants_user_idx ON session_participants (user_id);

CREATE TABLE session_invitations (
    invitation_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id    UUID NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    email         VARCHAR(255),
    invited_by    UUID REFERENCES users (user_id) ON DELETE SET NULL,
    role          VARCHAR(20) NOT NULL CHECK (role IN ('editor', 'viewer')),
    message       TEXT,
    status        VARCHAR(20) NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL,
    responded_at  TIMESTAMPTZ
);
CREATE INDEX session_invitations_session_idx ON session_invitations (session_id, status);
CREATE INDEX session_invitations_email_idx ON session_invitations (lower(email));
CREATE INDEX session_invitations_invited_by_idx ON session_invitations (invited_by);

CREATE TABLE deployments (
    deployment_id  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id     UUID NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    deployment_url VARCHAR(500) NOT NULL,
    container_id   VARCHAR(255),
    port           INTEGER CHECK (port BETWEEN 1 AND 65535),
    status         VARCHAR(20) NOT NULL DEFAULT 'starting'
                   CHECK (status IN ('starting', 'running', 'stopping', 'stopped', 'failed')),
    owner_id       UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at     TIMESTAMPTZ,
    stopped_at     TIMESTAMPTZ,
    last_active    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX deployments_session_idx ON deployments (session_id, status);
CREATE INDEX deployments_owner_idx ON deployments (owner_id, status);
CREATE INDEX deployments_live_idx ON deployments (status)
    WHERE status IN ('starting', 'running', 'stopping');
-- Two live deployments never share a host port.
CREATE UNIQUE INDEX deployments_live_port_key ON deployments (port)
    WHERE status IN ('starting', 'running', 'stopping') AND port IS NOT NULL;

CREATE TABLE deployment_participants (
    participant_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    deployment_id  UUID NOT NULL REFERENCES deployments (deployment_id) ON DELETE CASCADE,
    user_id        UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    email          VARCHAR(255),
    role           VARCHAR(20) NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    joined_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_active    TIMESTAMPTZ NOT NULL DEFAULT now(),
    is_active      BOOLEAN NOT NULL DEFAULT true,
    CONSTRAINT deployment_participants_once UNIQUE (deployment_id, user_id)
);
CREATE INDEX deployment_participants_user_idx ON deployment_participants (user_id);

CREATE TABLE past_deployments (
    past_deployment_id     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The live row may be cleaned up later; the archive outlives it.
    original_deployment_id UUID REFERENCES deployments (deployment_id) ON DELETE SET NULL,
    session_id             UUID NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    deployment_url         VARCHAR(500) NOT NULL,
    container_id           VARCHAR(255),
    port                   INTEGER,
    owner_id               UUID REFERENCES users (user_id) ON DELETE SET NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    started_at             TIMESTAMPTZ,
    stopped_at             TIMESTAMPTZ NOT NULL,
    total_runtime_minutes  BIGINT NOT NULL DEFAULT 0 CHECK (total_runtime_minutes >= 0),
    reason_for_stop        VARCHAR(255) NOT NULL,
    CONSTRAINT past_deployments_once UNIQUE (original_deployment_id)
);
CREATE INDEX past_deployments_session_idx ON past_deployments (session_id, stopped_at DESC);
CREATE INDEX past_deployments_owner_idx ON past_deployments (owner_id);

CREATE TABLE audit_logs (
    log_id        SERIAL PRIMARY KEY,
    ws_id         UUID REFERENCES workspaces (ws_id) ON DELETE SET NULL,
    user_id       UUID REFERENCES users (user_id) ON DELETE SET NULL,
    action        VARCHAR(100) NOT NULL,
    resource_type VARCHAR(50),
    resource_id   VARCHAR(255),
    old_value     JSONB,
    new_value     JSONB,
    ip_address    INET,
    user_agent    TEXT,
    "timestamp"   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_ws_idx ON audit_logs (ws_id, log_id DESC);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id, log_id DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, "timestamp" DESC);

CREATE TABLE refresh_tokens (
    token_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    token_hash  VARCHAR(255) NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ,
    device_info VARCHAR(500),
    CONSTRAINT refresh_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);

CREATE TABLE user_sessions (
    session_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    ws_id         UUID NOT NULL REFERENCES workspaces (ws_id) ON DELETE CASCADE,
    status        VARCHAR(20) NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'idle', 'ended')),
    last_activity TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at      TIMESTAMPTZ,
    CONSTRAINT user_sessions_ended CHECK ((status = 'ended') = (ended_at IS NOT NULL))
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id, ws_id);
CREATE INDEX user_sessions_ws_idx ON user_sessions (ws_id) WHERE status <> 'ended';
