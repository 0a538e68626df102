-- API keys (personal access tokens), logins (one per refresh-token family: the "devices"
-- a person sees and may end), and the devices a person logged in from before (hashed).

CREATE TABLE api_keys (
    key_id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name         VARCHAR(100) NOT NULL,
    -- SHA-256 of the whole key (the key is 256 random bits: no slow hash is needed).
    key_hash     VARCHAR(64) NOT NULL,
    -- The key's first characters, shown so a person can tell their keys apart.
    prefix       VARCHAR(16) NOT NULL,
    scopes       TEXT[] NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    last_used_ip INET,
    revoked_at   TIMESTAMPTZ,
    CONSTRAINT api_keys_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_scopes_known
        CHECK (scopes <@ ARRAY['read', 'write', 'deploy', 'admin']::TEXT[]
               AND cardinality(scopes) > 0)
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id) WHERE revoked_at IS NULL;

-- One row per login (refresh-token family): refresh_tokens.family_id = logins.login_id.
CREATE TABLE logins (
    login_id     UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    user_agent   VARCHAR(500),
    ip           INET,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at     TIMESTAMPTZ
);
CREATE INDEX logins_user_idx ON logins (user_id) WHERE ended_at IS NULL;

-- Logins that exist already become rows, so they are listed and can be ended.
INSERT INTO logins (login_id, user_id, user_agent, created_at, last_used_at, ended_at)
SELECT DISTINCT ON (family_id)
       family_id, user_id, device_info,
       min(created_at) OVER (PARTITION BY family_id),
       max(created_at) OVER (PARTITION BY family_id),
       CASE WHEN bool_and(revoked_at IS NOT NULL) OVER (PARTITION BY family_id)
            THEN now() END
FROM refresh_tokens
ORDER BY family_id, created_at DESC;

-- Devices a person has logged in from: a hash of the browser family and the network, so a
-- login from elsewhere can be told apart without keeping where people were.
CREATE TABLE known_devices (
    user_id       UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_hash   VARCHAR(64) NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, device_hash)
);
