// The REST shapes the dashboard and workspace pages read (see collab/sessions/store.py
// session_json, auth/workspace_store.py workspace_json, auth/workspaces.py members).
export interface SessionSummary {
  session_id: string;
  owner_id: string;
  name: string;
  description?: string | null;
  language: string;
  framework?: string | null;
  status: "active" | "archived" | string;
  ws_id: string | null;
  role: "owner" | "editor" | "viewer" | string;
  created_at?: string;
  updated_at?: string;
  last_active?: string;
}

export type WorkspaceRole = "owner" | "admin" | "editor" | "viewer";

export interface Workspace {
  ws_id: string;
  name: string;
  description: string | null;
  owner_id: string;
  is_public: boolean;
  is_template: boolean;
  status: string;
  role: WorkspaceRole | null; // the caller's; null for a public workspace they are not in
  created_at: string;
  updated_at: string;
  last_active: string;
}

export interface Member {
  user: { user_id: string; username: string; email?: string; first_name?: string | null; last_name?: string | null; profile_image_url?: string | null };
  role: WorkspaceRole;
  status: string;
  granted_by: string | null;
  since?: string;
}

const RANK: Record<string, number> = { owner: 4, admin: 3, editor: 2, viewer: 1 };

export function rank(role: string | null | undefined): number {
  return role ? (RANK[role] ?? 0) : 0;
}
