// The account-security routes of the contract (../shared/API.md "Security additions"), typed
// for the pages. Every call goes through `api()`: the server's message on failure.
import { api } from "../../api";

export interface MfaStatus {
  totp_enabled: boolean;
  recovery_codes_left: number;
}

export interface TotpEnrolment {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
}

export interface ApiKey {
  key_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
}

export interface NewApiKey {
  key_id: string;
  key: string;
  prefix: string;
  scopes: string[];
  expires_at: string | null;
}

export interface Device {
  id: string;
  user_agent: string | null;
  device?: string | null; // the server's short name for the user agent ("Chrome on Linux")
  ip: string | null;
  created_at: string;
  last_used_at: string | null;
  current: boolean;
}

export interface AuditEntry {
  log_id: number | string;
  action: string;
  resource_type?: string | null;
  resource_id?: string | null;
  ip_address?: string | null;
  user_agent?: string | null;
  timestamp: string;
  metadata?: Record<string, unknown> | null;
}

export interface AuditPage {
  items: AuditEntry[];
  next_before: number | string | null;
}

export const SCOPES = ["read", "write", "deploy", "admin"] as const;

export const mfaStatus = () => api<MfaStatus>("GET", "/api/auth/mfa");
export const startTotp = () => api<TotpEnrolment>("POST", "/api/auth/mfa/totp");
export const confirmTotp = (code: string) => api<{ recovery_codes: string[] }>("POST", "/api/auth/mfa/totp/confirm", { body: { code } });
export const disableTotp = (proof: { code: string } | { password: string }) => api<void>("DELETE", "/api/auth/mfa/totp", { body: proof });
export const newRecoveryCodes = (code: string) => api<{ recovery_codes: string[] }>("POST", "/api/auth/mfa/recovery-codes", { body: { code } });

// The list may come bare or wrapped ({items}/{api_keys}/{sessions}); take either.
function listOf<T>(answer: unknown): T[] {
  if (Array.isArray(answer)) return answer as T[];
  if (answer && typeof answer === "object") {
    for (const value of Object.values(answer)) if (Array.isArray(value)) return value as T[];
  }
  return [];
}

export const apiKeys = async () => listOf<ApiKey>(await api("GET", "/api/auth/api-keys"));
export const createApiKey = (body: { name: string; scopes: string[]; expires_in_days?: number }) => api<NewApiKey>("POST", "/api/auth/api-keys", { body });
export const revokeApiKey = (keyId: string) => api<void>("DELETE", `/api/auth/api-keys/${encodeURIComponent(keyId)}`);

export const devices = async () => listOf<Device>(await api("GET", "/api/auth/sessions"));
export const endDevice = (id: string) => api<void>("DELETE", `/api/auth/sessions/${encodeURIComponent(id)}`);

export const changePassword = (current_password: string, new_password: string) => api<void>("POST", "/api/auth/password/change", { body: { current_password, new_password } });
export const changeEmail = (new_email: string, password: string) => api<unknown>("POST", "/api/auth/email/change", { body: { new_email, password } });
export const resendVerification = () => api<unknown>("POST", "/api/auth/verify-email/resend", { body: {} });

export async function auditPage(before: number | string | null, limit = 20): Promise<AuditPage> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (before !== null) query.set("before", String(before));
  const answer = await api<AuditPage | AuditEntry[]>("GET", `/api/auth/me/audit-logs?${query}`);
  if (Array.isArray(answer)) return { items: answer, next_before: answer.length === limit ? (answer[answer.length - 1]?.log_id ?? null) : null };
  return { items: answer?.items ?? [], next_before: answer?.next_before ?? null };
}
