DELETE FROM documents WHERE ws_id IS NOT NULL;
ALTER TABLE document_updates DROP CONSTRAINT document_updates_scope_id_path_fkey;
ALTER TABLE document_updates RENAME COLUMN scope_id TO session_id;
DROP INDEX IF EXISTS documents_ws_idx;
DROP INDEX IF EXISTS documents_session_idx;
ALTER TABLE documents DROP CONSTRAINT documents_pkey;
ALTER TABLE documents DROP CONSTRAINT documents_one_scope;
ALTER TABLE documents DROP COLUMN scope_id;
ALTER TABLE documents DROP COLUMN ws_id;
ALTER TABLE documents ALTER COLUMN session_id SET NOT NULL;
ALTER TABLE documents ADD PRIMARY KEY (session_id, path);
ALTER TABLE document_updates ADD FOREIGN KEY (session_id, path)
    REFERENCES documents (session_id, path) ON DELETE CASCADE ON UPDATE CASCADE;
DROP INDEX IF EXISTS sessions_ws_idx;
ALTER TABLE sessions DROP COLUMN IF EXISTS ws_id;
DROP TABLE IF EXISTS workspace_documents;
