-- Deployments on their own networks (issue #11): the server dials a container at its address
-- on that network, on the runtime's port, so no host port is reserved any more and two live
-- deployments may name the same port. What a deployment printed outlives its container
-- (`output`: the last 256 KiB, secrets masked), and a session carries environment variables
-- that override its workspace's (`environment`: the stored form, secrets sealed).
DROP INDEX IF EXISTS deployments_live_port_key;
ALTER TABLE deployments
    ADD COLUMN address VARCHAR(45),
    ADD COLUMN output TEXT;
ALTER TABLE sessions
    ADD COLUMN environment JSONB NOT NULL DEFAULT '{}'::jsonb;
