// Join links as the server answers them, and where a browser opens one.

export interface Invitation {
  invitation_id: string;
  email: string | null;
  role: "editor" | "viewer";
  message: string | null;
  status: string; // pending, accepted, revoked, expired
  created_at: string;
  expires_at: string;
  [key: string]: unknown;
}

export interface CreatedInvitation {
  invitation_id: string;
  token: string;
  join_url: string;
  expires_at: string;
}

// The contract says `join_url` is the page URL `/join/{token}`; a server that still answers
// the API's `/api/join/{token}` (which only takes POST) gets the page's path instead.
export function pageJoinUrl(created: CreatedInvitation): string {
  const url = created.join_url || `/join/${created.token}`;
  const fixed = url.replace("/api/join/", "/join/");
  return new URL(fixed, window.location.origin).toString();
}
