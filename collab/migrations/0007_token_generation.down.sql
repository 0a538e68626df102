ALTER TABLE users DROP COLUMN IF EXISTS token_generation;
