// /oauth/callback#access_token=…&expires_in=…: where the server sends the browser back after
// GitHub or Google. The fragment never reaches a server; it is read once and wiped from the
// address bar. A refresh token in it is ignored: the browser's lives in the HttpOnly cookie.
//
// The token is taken only for a provider login this tab started (the provider button keeps
// the page to return to in this tab's sessionStorage for the trip): this page is a plain link
// anyone can hand over with their own token in it, and taking that would log the visitor into
// the sender's account (login CSRF).
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api";
import { accept, setUser, user as currentUser, type User } from "../../auth";
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
    const started = sessionStorage.getItem(OAUTH_NEXT_KEY);
    sessionStorage.removeItem(OAUTH_NEXT_KEY);
    if (started === null) {
      // Not our trip: whoever is logged in here (from the cookie) stays so.
      if (currentUser()) navigate("/", { replace: true });
      else setError(new Error("This sign-in was not started in this tab. Start it again from the log-in page."));
      return;
    }
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
        navigate(safeNext(started), { replace: true });
      })
      .catch(setError);
  }, []);
  return <AccountCard title="Signing you in">{error ? <ErrorBanner error={error} /> : <Loading label="Signing you in…" />}</AccountCard>;
}
