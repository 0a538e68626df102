DROP TABLE IF EXISTS deployment_database_identity;
DROP INDEX IF EXISTS deployments_live_cluster;
ALTER TABLE deployments
    DROP COLUMN IF EXISTS cluster,
    DROP COLUMN IF EXISTS engine;
