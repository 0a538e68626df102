ALTER TABLE session_participants DROP COLUMN IF EXISTS joined_via;
