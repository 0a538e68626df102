-- What a deployment needs beyond the diagram: its runtime, whether its preview is public,
-- and why it is in its status (a failure's reason, a stop's cause).
ALTER TABLE deployments
    ADD COLUMN runtime VARCHAR(100),
    ADD COLUMN public BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN reason VARCHAR(500);
