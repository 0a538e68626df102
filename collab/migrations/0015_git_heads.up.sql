-- Git (issue #13 §5): the commit a workspace last pulled or pushed, per remote and branch.
-- A push is refused while the branch's head is another commit (someone pushed since: pull
-- first), so the server never overwrites work it has not seen.
CREATE TABLE git_heads (
    ws_id      UUID PRIMARY KEY REFERENCES workspaces (ws_id) ON DELETE CASCADE,
    remote_url TEXT NOT NULL,
    branch     VARCHAR(255) NOT NULL,
    commit_sha VARCHAR(64) NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
