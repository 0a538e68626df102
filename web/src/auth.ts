// Who is logged in, and their access token: in memory only. The refresh token lives in an
// HttpOnly cookie the server sets (scoped to /api/auth/refresh and /api/auth/logout), so no
// script can read it; a reload restores the login by one cookie refresh.
import { answer, CLIENT_HEADER } from "./api";

export interface User {
  user_id: string;
  email: string;
  username: string;
  first_name?: string | null;
  last_name?: string | null;
  email_verified?: boolean;
  profile_image_url?: string | null;
  [key: string]: unknown;
}

interface TokenAnswer {
  user?: User;
  access_token: string;
  expires_in: number;
}

let accessToken: string | null = null;
let expiresAt = 0; // ms since epoch
let lifetimeMs = 0;
let currentUser: User | null = null;
let refreshing: Promise<boolean> | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<(user: User | null) => void>();

// Refresh this long before the access token expires, so a socket reconnecting never
// presents an expired one.
const EARLY_MS = 60_000;

export function user(): User | null {
  return currentUser;
}

export function onAuthChange(listener: (user: User | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function announce(): void {
  for (const listener of listeners) listener(currentUser);
}

export function setUser(next: User): void {
  currentUser = next;
  announce();
}

// Takes a token answer (login, register, refresh, OAuth), keeps it in memory and schedules
// the next refresh.
export function accept(answer: TokenAnswer): void {
  accessToken = answer.access_token;
  lifetimeMs = answer.expires_in * 1000;
  expiresAt = Date.now() + lifetimeMs;
  if (answer.user) currentUser = answer.user;
  clearTimeout(timer);
  // A minute early, or at 80% of a short lifetime.
  const due = Math.min(lifetimeMs - EARLY_MS, lifetimeMs * 0.8);
  timer = setTimeout(() => void refreshNow(), Math.max(5_000, due));
  announce();
}

export function forget(): void {
  accessToken = null;
  expiresAt = 0;
  currentUser = null;
  clearTimeout(timer);
  announce();
}

// The refresh cookie traded for a new access token (one call at a time). False when there is
// no valid cookie: the person is logged out.
export function refreshNow(): Promise<boolean> {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const response = await fetch("/api/auth/refresh", {
          method: "POST",
          headers: { ...CLIENT_HEADER, "Content-Type": "application/json" },
          credentials: "same-origin",
          body: "{}",
        });
        if (response.status === 401 || response.status === 403) {
          // The login is over (expired, revoked, reused): drop the flag so reloads stop asking.
          document.cookie = "collab_login=; Max-Age=0; Path=/; Secure; SameSite=Strict";
          forget();
          return false;
        }
        accept(await answer<TokenAnswer>(response));
        if (!currentUser) currentUser = await me();
        announce();
        return true;
      } catch {
        return false; // offline: keep what we have and try again later
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

// A token that is valid for a while yet, refreshing first when it is about to expire.
export async function freshAccessToken(): Promise<string | null> {
  const margin = Math.min(EARLY_MS / 2, lifetimeMs / 4);
  if (accessToken && Date.now() < expiresAt - margin) return accessToken;
  if (accessToken || currentUser) await refreshNow();
  return accessToken;
}

export function currentAccessToken(): string | null {
  return accessToken;
}

async function me(): Promise<User> {
  const response = await fetch("/api/auth/me", {
    headers: { ...CLIENT_HEADER, Authorization: `Bearer ${accessToken}` },
  });
  return answer<User>(response);
}

// The server sets this script-readable flag (no secret) next to the HttpOnly refresh cookie.
const HINT = "collab_login=1";

function hasLoginHint(): boolean {
  return document.cookie.split(/;\s*/).includes(HINT);
}

// On page load: is there a login to restore? Only asked when the flag says a refresh cookie
// was set, so a visitor who never logged in costs no call (and no 401 in the console).
export async function restore(): Promise<User | null> {
  if (!hasLoginHint()) return null;
  return (await refreshNow()) ? currentUser : null;
}

export async function login(loginName: string, password: string): Promise<User> {
  const response = await fetch("/api/auth/login", {
    method: "POST",
    headers: { ...CLIENT_HEADER, "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ login: loginName, password }),
  });
  accept(await answer<TokenAnswer>(response));
  if (!currentUser) currentUser = await me();
  return currentUser!;
}

export async function register(fields: Record<string, string>): Promise<User> {
  const response = await fetch("/api/auth/register", {
    method: "POST",
    headers: { ...CLIENT_HEADER, "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(fields),
  });
  accept(await answer<TokenAnswer>(response));
  return currentUser!;
}

export async function logout(): Promise<void> {
  try {
    await fetch("/api/auth/logout", {
      method: "POST",
      headers: { ...CLIENT_HEADER, "Content-Type": "application/json" },
      credentials: "same-origin",
      body: "{}",
    });
  } finally {
    forget();
  }
}
