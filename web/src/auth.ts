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

// What a password (or OAuth) login leads to: logged in, or a second step first (the account
// has two-factor on; the short-lived `mfaToken` stands for the password already given).
export type LoginStep = { kind: "done"; user: User } | { kind: "mfa"; mfaToken: string };

interface MfaChallenge {
  mfa_required: true;
  mfa_token: string;
}

function isChallenge(value: unknown): value is MfaChallenge {
  return typeof value === "object" && value !== null && (value as MfaChallenge).mfa_required === true;
}

async function loggedIn(tokens: TokenAnswer): Promise<User> {
  accept(tokens);
  if (!currentUser) currentUser = await me();
  announce();
  return currentUser!;
}

export async function login(loginName: string, password: string): Promise<LoginStep> {
  const response = await fetch("/api/auth/login", {
    method: "POST",
    headers: { ...CLIENT_HEADER, "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ login: loginName, password }),
  });
  const body = await answer<TokenAnswer | MfaChallenge>(response);
  if (isChallenge(body)) return { kind: "mfa", mfaToken: body.mfa_token };
  return { kind: "done", user: await loggedIn(body) };
}

// The second step: a code from the authenticator app, or one of the recovery codes.
export async function verifyMfa(mfaToken: string, proof: { code: string } | { recovery_code: string }): Promise<User> {
  const response = await fetch("/api/auth/mfa/verify", {
    method: "POST",
    headers: { ...CLIENT_HEADER, "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ mfa_token: mfaToken, ...proof }),
  });
  return loggedIn(await answer<TokenAnswer>(response));
}

// An OAuth login of an account with two-factor on comes back as `/login#mfa_token=…`: read it
// once and wipe it from the address bar (and history) so it is never shown or shared.
export function takeMfaTokenFromUrl(): string | null {
  if (!window.location.hash) return null;
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get("mfa_token");
  if (token === null) return null;
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  return token || null;
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
