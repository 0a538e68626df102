// What an invitation page shows, for both kinds (a session's join link, a workspace's
// invitation): who invited you to what with which role; log in or sign up (each returning
// here) when you are not logged in, then Accept or Decline. Spent, expired, revoked and
// unknown links get a page that says so.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ApiError } from "../../api";
import { logout } from "../../auth";
import { useTitle } from "../../app/useTitle";
import { useUser } from "../../app/useUser";
import { Link, navigate } from "../../router";
import { Button } from "../../ui/Button";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { dateTime, displayName, type Person } from "../../ui/format";
import { Loading } from "../../ui/Loading";
import { RoleBadge } from "../../ui/RoleBadge";
import { useLoad } from "../../ui/useLoad";

export interface InvitationDetails {
  target: string; // the session's or workspace's name
  detail?: string; // e.g. the session's language
  role: string;
  invitedBy: Person | null;
  expiresAt: string | null;
  message: string | null;
  emailBound: boolean;
  blocked?: string | null; // why it cannot be accepted just now (e.g. an archived session)
}

export interface InvitationViewProps {
  kind: "session" | "workspace";
  here: string; // this page's path, for the log-in and sign-up return
  lookUp: () => Promise<InvitationDetails>;
  accept: () => Promise<string>; // answers where to go next
  decline: () => Promise<void>;
}

// The page's outcome once a link cannot be used.
function deadEnd(error: unknown): { title: string; message: string } | null {
  if (!(error instanceof ApiError)) return null;
  if (error.status === 410) return { title: "This invitation has expired", message: `${error.message} Ask the person who invited you for a new link.` };
  if (error.status === 404) return { title: "This invitation does not exist", message: "The link may be mistyped, or the invitation was withdrawn. Ask for a new one." };
  return null;
}

export function InvitationView({ kind, here, lookUp, accept, decline }: InvitationViewProps) {
  const me = useUser();
  const noun = kind === "session" ? "session" : "workspace";
  const details = useLoad(async () => {
    try {
      return await lookUp();
    } catch (e) {
      // No look-up route on this server (405), or it needs a login (401): go on without details.
      if (e instanceof ApiError && (e.status === 405 || e.status === 401)) return null;
      throw e;
    }
  }, [me?.user_id]);
  const [answer, setAnswer] = useState<null | "accepting" | "declining" | "declined">(null);
  const [error, setError] = useState<unknown>(null);
  const d = details.data;
  useTitle(d ? `Invitation to ${d.target}` : "Invitation");

  const ended = deadEnd(details.error) ?? deadEnd(error);
  if (ended) {
    return (
      <Shell testId="invitation-gone">
        <h1>{ended.title}</h1>
        <p class="muted">{ended.message}</p>
        <Link href="/" class="btn btn-primary">
          Go to your dashboard
        </Link>
      </Shell>
    );
  }
  if (details.loading && !d) return <Loading />;
  if (answer === "declined") {
    return (
      <Shell testId="invitation-declined">
        <h1>Invitation declined</h1>
        <p class="muted">{d ? `You will not join ${d.target}.` : "You will not join."} The person who invited you is not told anything more.</p>
        <Link href="/" class="btn btn-primary">
          Go to your dashboard
        </Link>
      </Shell>
    );
  }

  const run = async (which: "accepting" | "declining") => {
    setAnswer(which);
    setError(null);
    try {
      if (which === "accepting") navigate(await accept(), { replace: true });
      else {
        await decline();
        setAnswer("declined");
        return;
      }
    } catch (e) {
      setError(e);
    }
    setAnswer(null);
  };
  const next = encodeURIComponent(here);
  return (
    <Shell testId="invitation">
      <p class="eyebrow">{kind === "session" ? "Session invitation" : "Workspace invitation"}</p>
      {d ? (
        <>
          <h1>
            {d.invitedBy ? (
              <>
                <strong>{displayName(d.invitedBy)}</strong> invited you to <strong>{d.target}</strong>
              </>
            ) : (
              <>
                You are invited to <strong>{d.target}</strong>
              </>
            )}
          </h1>
          <dl class="facts" data-testid="invitation-details">
            {d.invitedBy && (
              <>
                <dt>Invited by</dt>
                <dd>
                  {displayName(d.invitedBy)} <span class="muted">@{d.invitedBy.username}</span>
                </dd>
              </>
            )}
            <dt>{kind === "session" ? "Session" : "Workspace"}</dt>
            <dd>
              {d.target}
              {d.detail && <span class="muted"> · {d.detail}</span>}
            </dd>
            <dt>Your role</dt>
            <dd>
              <RoleBadge role={d.role} />
            </dd>
            {d.expiresAt && (
              <>
                <dt>Valid until</dt>
                <dd>{dateTime(d.expiresAt)}</dd>
              </>
            )}
          </dl>
          {d.message && <blockquote class="invite-message">{d.message}</blockquote>}
          {d.blocked && (
            <Notice kind="warning" testId="invitation-blocked">
              {d.blocked}
            </Notice>
          )}
          {d.emailBound && <Notice kind="info">This invitation is for one email address: accept it with the account that has that address.</Notice>}
        </>
      ) : (
        <h1>You are invited to a {noun}</h1>
      )}
      <ErrorBanner error={details.error ?? error} />
      {me ? (
        <>
          <div class="actions actions-start">
            <Button variant="primary" busy={answer === "accepting"} disabled={answer !== null || Boolean(d?.blocked)} onClick={() => void run("accepting")} data-testid="accept-invitation">
              Accept
            </Button>
            <Button busy={answer === "declining"} disabled={answer !== null} onClick={() => void run("declining")} data-testid="decline-invitation">
              Decline
            </Button>
          </div>
          <p class="muted small">
            Logged in as <strong>{me.username}</strong>.{" "}
            <button type="button" class="link-button" onClick={() => void logout()}>
              Not you? Log out
            </button>
          </p>
        </>
      ) : (
        <>
          <p>Log in or create an account to accept this invitation. You will come back here.</p>
          <div class="actions actions-start">
            <Link href={`/login?next=${next}`} class="btn btn-primary" data-testid="invitation-login">
              Log in
            </Link>
            <Link href={`/signup?next=${next}`} class="btn btn-secondary" data-testid="invitation-signup">
              Sign up
            </Link>
          </div>
        </>
      )}
    </Shell>
  );
}

function Shell({ children, testId }: { children: ComponentChildren; testId: string }) {
  return (
    <section class="card invitation-card" data-testid={testId}>
      {children}
    </section>
  );
}

