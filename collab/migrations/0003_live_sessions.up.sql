-- Live sessions: hashed join-link tokens, and the stored CRDT documents.
--
-- A document (one file of a session) is a snapshot plus the updates appended since it.
-- Every update is appended, and committed, before any client is sent it; compaction folds
-- updates into the snapshot and deletes them in one transaction.

ALTER TABLE session_invitations ADD COLUMN token_hash VARCHAR(255);
UPDATE session_invitations SET token_hash = encode(sha256(gen_random_uuid()::text::bytea), 'hex')
    WHERE token_hash IS NULL;
ALTER TABLE session_invitations
    ALTER COLUMN token_hash SET NOT NULL,
    ADD CONSTRAINT session_invitations_token_key UNIQUE (token_hash);

CREATE TABLE documents (
    session_id UUID NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    path       VARCHAR(512) NOT NULL CHECK (length(path) > 0),
    snapshot   BYTEA,
    size       INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, path)
);

CREATE TABLE document_updates (
    update_id  BIGSERIAL PRIMARY KEY,
    session_id UUID NOT NULL,
    path       VARCHAR(512) NOT NULL,
    data       BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (session_id, path) REFERENCES documents (session_id, path)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX document_updates_document_idx ON document_updates (session_id, path, update_id);
