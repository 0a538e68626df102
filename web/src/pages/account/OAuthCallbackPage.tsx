// /oauth/callback#access_token=…&expires_in=…: where the server sends the browser back after
// GitHub or Google. The fragment never reaches a server; it is read once and wiped from the
// address bar. A refresh token in it is ignored: the browser's lives in the HttpOnly cookie.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api";
import { accept, setUser, type User } from "../../auth";
import { navigate, safeNext } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Loading } from "../../ui/Loading";
import { AccountCard } from "./AccountCard";
import { OAUTH_NEXT_KEY } from "./OAuthButtons";

export function OAuthCallbackPage() {
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    window.history.replaceState(null, "", window.location.pathname);
    const token = fragment.get("access_token");
    const expiresIn = Number(fragment.get("expires_in"));
    if (!token || !expiresIn) {
      setError(new Error(fragment.get("error") ?? "The sign-in did not complete. Try again."));
      return;
    }
    accept({ access_token: token, expires_in: expiresIn });
    api<User>("GET", "/api/auth/me")
      .then((me) => {
        setUser(me);
        const next = safeNext(sessionStorage.getItem(OAUTH_NEXT_KEY));
        sessionStorage.removeItem(OAUTH_NEXT_KEY);
        navigate(next, { replace: true });
      })
      .catch(setError);
  }, []);
  return <AccountCard title="Signing you in">{error ? <ErrorBanner error={error} /> : <Loading label="Signing you in…" />}</AccountCard>;
}
