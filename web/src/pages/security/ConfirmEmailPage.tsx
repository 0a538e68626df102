// /confirm-email?token=…: the link mailed to a new address. Opening it makes the change.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api";
import { setUser, user as currentUser, type User } from "../../auth";
import { Link } from "../../router";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Loading } from "../../ui/Loading";
import { AccountCard } from "../account/AccountCard";

type State = { kind: "working" } | { kind: "done"; email: string | null } | { kind: "failed"; error: unknown };

export function ConfirmEmailPage({ token }: { token: string }) {
  const [state, setState] = useState<State>(token ? { kind: "working" } : { kind: "failed", error: new Error("This link has no token. Open the link from the email again.") });
  useEffect(() => {
    if (!token) return;
    let live = true;
    api<{ user?: User; email?: string } | undefined>("POST", "/api/auth/email/confirm", { body: { token }, auth: false })
      .then(async (answer) => {
        let email = answer?.user?.email ?? answer?.email ?? null;
        // Logged in here: show the new address at once (re-read, whatever the answer held).
        if (currentUser()) {
          const me = await api<User>("GET", "/api/auth/me").catch(() => null);
          if (me) {
            setUser(me);
            email = email ?? me.email;
          }
        }
        if (live) setState({ kind: "done", email });
      })
      .catch((error) => live && setState({ kind: "failed", error }));
    return () => {
      live = false;
    };
  }, [token]);
  return (
    <AccountCard title="Confirm your new email address" testId="confirm-email-page">
      {state.kind === "working" && <Loading label="Confirming…" />}
      {state.kind === "done" && (
        <Notice kind="success" testId="confirm-email-done">
          {state.email ? `Your email address is now ${state.email}.` : "Your email address was changed."}
        </Notice>
      )}
      {state.kind === "failed" && <ErrorBanner error={state.error} testId="confirm-email-error" />}
      <p class="account-switch">
        <Link href={currentUser() ? "/settings/security" : "/login"}>{currentUser() ? "Back to security settings" : "Log in"}</Link>
      </p>
    </AccountCard>
  );
}
