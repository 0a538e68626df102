DROP TABLE IF EXISTS document_updates;
DROP TABLE IF EXISTS documents;
ALTER TABLE session_invitations DROP COLUMN IF EXISTS token_hash;
