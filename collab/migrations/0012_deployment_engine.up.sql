-- Deployments beyond one host (issue #11 §5): a row records the engine that runs it
-- (`docker` or `swarm`) and the cluster it belongs to; a server process reconciles and
-- reaps only its own cluster's rows (and the engine objects labelled `collab.cluster`).
-- Rows from before this migration have no cluster: the first reconciler claims them.
-- The database's own identity is half of the default cluster id (the engine's is the
-- other), so two databases on one dockerd never take each other's containers for strays.
ALTER TABLE deployments
    ADD COLUMN engine VARCHAR(16) NOT NULL DEFAULT 'docker',
    ADD COLUMN cluster VARCHAR(128);
CREATE INDEX deployments_live_cluster ON deployments (cluster)
    WHERE status IN ('starting', 'running', 'stopping');
CREATE TABLE deployment_database_identity (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    id UUID NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO deployment_database_identity DEFAULT VALUES;
