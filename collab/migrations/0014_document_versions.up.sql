-- File history (issue #13 §5): a document's earlier texts. A version is kept at each
-- compaction, before each restore, and as a named checkpoint on request; it holds the text
-- (not the CRDT history: a restore applies a new update that makes the text equal again),
-- the state vector it was taken at (to tell who wrote since the previous version) and those
-- authors. Versions follow their file: deleted with it, renamed with it.
CREATE TABLE document_versions (
    version_id   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    scope_id     UUID NOT NULL,
    path         VARCHAR(512) NOT NULL,
    kind         VARCHAR(16) NOT NULL CHECK (kind IN ('compaction', 'checkpoint', 'restore')),
    name         VARCHAR(200),
    text         TEXT NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    state_vector BYTEA NOT NULL,
    authors      UUID[] NOT NULL DEFAULT '{}',
    created_by   UUID REFERENCES users (user_id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (scope_id, path) REFERENCES documents (scope_id, path)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX document_versions_document_idx
    ON document_versions (scope_id, path, created_at DESC);
CREATE INDEX document_versions_created_by_idx ON document_versions (created_by);
