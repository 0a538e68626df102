-- Access tokens carry the user's token generation (claim `gen`). Ending every session
-- (logout-all, password reset, deactivation) increments it, which refuses every access
-- token issued before, however recently. Comparing `iat` (whole seconds) with
-- tokens_valid_after spared tokens issued in the same second as the cut-off; that column
-- now only records when sessions were last ended.
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

-- Tokens issued before this migration carry no generation and count as generation 0. Users
-- whose sessions were ended within the longest access-token lifetime (one day) start at 1,
-- so tokens from before that cut-off stay refused (and those from after it need a refresh).
UPDATE users SET token_generation = 1 WHERE tokens_valid_after > now() - interval '1 day';
