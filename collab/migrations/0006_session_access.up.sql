-- How each session participant came in, so that access to a session opened on a workspace
-- can follow the workspace role:
--   owner       created the session (a workspace editor or above at the time)
--   workspace   a workspace member who opened the session
--   invitation  redeemed a join link
-- On a workspace session, owner and workspace rows count only while the person is an
-- active member of the workspace; invitation rows are people invited from outside it.
ALTER TABLE session_participants
    ADD COLUMN joined_via VARCHAR(20) NOT NULL DEFAULT 'workspace'
        CHECK (joined_via IN ('owner', 'workspace', 'invitation'));

UPDATE session_participants SET joined_via = 'owner' WHERE role = 'owner';

-- Existing rows of standalone sessions came from join links. On workspace sessions, only a
-- redeemed link recorded in the audit log proves an invitation; the rest stay bounded by
-- the workspace (the safe reading).
UPDATE session_participants p SET joined_via = 'invitation'
FROM sessions s
WHERE s.session_id = p.session_id AND p.role <> 'owner'
  AND (s.ws_id IS NULL OR EXISTS (
      SELECT 1 FROM audit_logs a
      WHERE a.action = 'session_invitation.accepted' AND a.resource_type = 'session'
        AND a.resource_id = p.session_id::text AND a.user_id = p.user_id));
