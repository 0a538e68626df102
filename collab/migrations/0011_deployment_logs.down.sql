ALTER TABLE sessions DROP COLUMN IF EXISTS environment;
ALTER TABLE deployments
    DROP COLUMN IF EXISTS output,
    DROP COLUMN IF EXISTS address;
-- Live deployments of this version share ports: they keep none under the old rule.
UPDATE deployments SET port = NULL WHERE status IN ('starting', 'running', 'stopping');
CREATE UNIQUE INDEX deployments_live_port_key ON deployments (port)
    WHERE status IN ('starting', 'running', 'stopping') AND port IS NOT NULL;
