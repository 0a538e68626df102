-- The workspace document (mongo_workspaces in the data model) for the PostgreSQL JSONB
-- backend, and sessions opened on a workspace.

CREATE TABLE workspace_documents (
    ws_id      UUID PRIMARY KEY REFERENCES workspaces (ws_id) ON DELETE CASCADE,
    document   JSONB NOT NULL CHECK (jsonb_typeof(document) = 'object'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER workspace_documents_touch BEFORE UPDATE ON workspace_documents
    FOR EACH ROW EXECUTE FUNCTION collab_touch_updated_at();

ALTER TABLE sessions ADD COLUMN ws_id UUID REFERENCES workspaces (ws_id) ON DELETE CASCADE;
CREATE INDEX sessions_ws_idx ON sessions (ws_id) WHERE ws_id IS NOT NULL;

-- A session opened on a workspace edits the workspace's files: documents belong either to
-- one session or to one workspace, and are addressed by that scope.
ALTER TABLE document_updates DROP CONSTRAINT document_updates_session_id_path_fkey;
ALTER TABLE documents DROP CONSTRAINT documents_pkey;
ALTER TABLE documents ALTER COLUMN session_id DROP NOT NULL;
ALTER TABLE documents ADD COLUMN ws_id UUID REFERENCES workspaces (ws_id) ON DELETE CASCADE;
ALTER TABLE documents
    ADD COLUMN scope_id UUID GENERATED ALWAYS AS (coalesce(ws_id, session_id)) STORED;
ALTER TABLE documents ADD CONSTRAINT documents_one_scope CHECK (num_nonnulls(session_id, ws_id) = 1);
ALTER TABLE documents ADD PRIMARY KEY (scope_id, path);
CREATE INDEX documents_session_idx ON documents (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX documents_ws_idx ON documents (ws_id) WHERE ws_id IS NOT NULL;
ALTER TABLE document_updates RENAME COLUMN session_id TO scope_id;
ALTER TABLE document_updates ADD FOREIGN KEY (scope_id, path) REFERENCES documents (scope_id, path)
    ON DELETE CASCADE ON UPDATE CASCADE;
