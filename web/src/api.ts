// The one way the app talks to the REST API: JSON in and out, the access token from memory,
// errors as `ApiError` carrying the server's human message (never raw JSON on screen).
import { freshAccessToken, refreshNow } from "./auth";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

// Marks browser calls: the server answers refresh tokens as an HttpOnly cookie instead of in
// the body, and requires this header on cookie-authenticated calls (a CSRF defence).
export const CLIENT_HEADER = { "X-Collab-Client": "web" };

export interface RequestOptions {
  body?: unknown;
  auth?: boolean; // default true: send the access token
  raw?: boolean; // answer the text instead of parsing JSON
}

export async function api<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const send = async (token: string | null): Promise<Response> => {
    const headers: Record<string, string> = { ...CLIENT_HEADER };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch {
      throw new ApiError(0, "offline", "The server cannot be reached. Check your connection.");
    }
  };
  const wantsAuth = options.auth !== false;
  let response = await send(wantsAuth ? await freshAccessToken() : null);
  if (response.status === 401 && wantsAuth) {
    // The token may have expired in flight, or been revoked: one refresh, one retry.
    if (await refreshNow()) response = await send(await freshAccessToken());
  }
  return answer<T>(response, options.raw === true);
}

export async function answer<T>(response: Response, raw = false): Promise<T> {
  if (response.ok) {
    if (response.status === 204) return undefined as T;
    if (raw) return (await response.text()) as T;
    const type = response.headers.get("Content-Type") ?? "";
    return (type.includes("json") ? await response.json() : await response.text()) as T;
  }
  let code = "error";
  let message = `The server answered ${response.status}.`;
  let details: Record<string, unknown> | undefined;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = String(body.error.code ?? code);
      message = String(body.error.message ?? message);
      details = body.error.details;
    }
  } catch {
    // Not the contract's shape (a proxy's page): keep the generic message.
  }
  if (response.status === 429) {
    const wait = response.headers.get("Retry-After");
    if (wait && !/try again/i.test(message)) message = `${message} Try again in ${wait} s.`;
  }
  throw new ApiError(response.status, code, message, details);
}

// Field errors of a 422, e.g. {password: "too short"}, for forms.
export function fieldErrors(error: unknown): Record<string, string> {
  if (error instanceof ApiError && error.details) {
    return Object.fromEntries(Object.entries(error.details).map(([k, v]) => [k, String(v)]));
  }
  return {};
}
