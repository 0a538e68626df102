// The page table: which path shows which page, and who may see it. `access` decides the
// guard: "user" pages send visitors to /login?next=…, "guest" pages (log in, sign up) send
// logged-in people on to where they were going, "any" pages are for everyone.
import type { ComponentChild } from "preact";
import { ForgotPasswordPage } from "../pages/account/ForgotPasswordPage";
import { LoginPage } from "../pages/account/LoginPage";
import { OAuthCallbackPage } from "../pages/account/OAuthCallbackPage";
import { ProfilePage } from "../pages/account/ProfilePage";
import { ResetPasswordPage } from "../pages/account/ResetPasswordPage";
import { SignupPage } from "../pages/account/SignupPage";
import { VerifyEmailPage } from "../pages/account/VerifyEmailPage";
import { HomePage } from "../pages/home/HomePage";
import { JoinPage } from "../pages/invitations/JoinPage";
import { WorkspaceInvitationPage } from "../pages/invitations/WorkspaceInvitationPage";
import { ConfirmEmailPage } from "../pages/security/ConfirmEmailPage";
import { SecurityPage } from "../pages/security/SecurityPage";
import { WorkspacePage } from "../pages/workspace/WorkspacePage";
import { safeNext } from "../router";
import { LazySessionPage } from "./LazySessionPage";

export type Access = "user" | "guest" | "any";

export interface PageRoute {
  pattern: string;
  access: Access;
  // "full": the page fills the window and draws its own bar (the IDE); "narrow": a centred
  // card (account and invitation pages); otherwise a centred column.
  layout?: "column" | "full" | "narrow";
  render: (params: Record<string, string>, query: URLSearchParams) => ComponentChild;
}

const next = (query: URLSearchParams) => safeNext(query.get("next"));

export const ROUTES: PageRoute[] = [
  { pattern: "/", access: "user", render: () => <HomePage /> },
  { pattern: "/login", access: "guest", layout: "narrow", render: (_, q) => <LoginPage next={next(q)} deleted={q.get("deleted") === "1"} /> },
  { pattern: "/signup", access: "guest", layout: "narrow", render: (_, q) => <SignupPage next={next(q)} /> },
  { pattern: "/forgot-password", access: "any", layout: "narrow", render: () => <ForgotPasswordPage /> },
  { pattern: "/reset-password", access: "any", layout: "narrow", render: (_, q) => <ResetPasswordPage token={q.get("token") ?? ""} /> },
  { pattern: "/verify-email", access: "any", layout: "narrow", render: (_, q) => <VerifyEmailPage token={q.get("token") ?? ""} /> },
  { pattern: "/oauth/callback", access: "any", layout: "narrow", render: () => <OAuthCallbackPage /> },
  { pattern: "/profile", access: "user", layout: "narrow", render: () => <ProfilePage /> },
  { pattern: "/settings/security", access: "user", render: () => <SecurityPage /> },
  { pattern: "/confirm-email", access: "any", layout: "narrow", render: (_, q) => <ConfirmEmailPage token={q.get("token") ?? ""} /> },
  {
    pattern: "/sessions/:sessionId",
    access: "user",
    layout: "full",
    render: (p, q) => <LazySessionPage key={p.sessionId} sessionId={p.sessionId} file={q.get("file")} />,
  },
  { pattern: "/workspaces/:wsId", access: "user", render: (p) => <WorkspacePage key={p.wsId} wsId={p.wsId} /> },
  { pattern: "/join/:token", access: "any", layout: "narrow", render: (p) => <JoinPage key={p.token} token={p.token} /> },
  {
    pattern: "/invitations/:token",
    access: "any",
    layout: "narrow",
    render: (p) => <WorkspaceInvitationPage key={p.token} token={p.token} />,
  },
];
