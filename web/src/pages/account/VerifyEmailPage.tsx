// /verify-email?token=…: confirms the address as soon as the page opens, then says so.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api";
import { setUser, user as currentUser, type User } from "../../auth";
import { Link } from "../../router";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Loading } from "../../ui/Loading";
import { AccountCard } from "./AccountCard";

type State = { kind: "working" } | { kind: "done" } | { kind: "failed"; error: unknown };

export function VerifyEmailPage({ token }: { token: string }) {
  const [state, setState] = useState<State>(token ? { kind: "working" } : { kind: "failed", error: new Error("This link has no token. Open the link from the email again.") });
  useEffect(() => {
    if (!token) return;
    let live = true;
    api<{ user: User }>("POST", "/api/auth/verify-email", { body: { token }, auth: false })
      .then((answer) => {
        // The person logged in here is the one confirmed: show them verified at once.
        const me = currentUser();
        if (me && answer?.user && me.user_id === answer.user.user_id) setUser({ ...me, ...answer.user });
        if (live) setState({ kind: "done" });
      })
      .catch((error) => live && setState({ kind: "failed", error }));
    return () => {
      live = false;
    };
  }, [token]);
  return (
    <AccountCard title="Confirm your email address" testId="verify-email-page">
      {state.kind === "working" && <Loading label="Confirming…" />}
      {state.kind === "done" && (
        <Notice kind="success" testId="verify-done">
          Your email address is confirmed.
        </Notice>
      )}
      {state.kind === "failed" && <ErrorBanner error={state.error} />}
      <p class="account-switch">
        <Link href="/">Go to your dashboard</Link>
      </p>
    </AccountCard>
  );
}
