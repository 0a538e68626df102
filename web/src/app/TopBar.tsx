// The bar at the top of every page: the brand, where you are, who you are.
import type { User } from "../auth";
import { logout } from "../auth";
import { Link, loginPath, navigate, safeNext } from "../router";
import { Avatar } from "../ui/Avatar";
import { displayName } from "../ui/format";

// Where "Log in" / "Sign up" should return to: the page on screen, or, on the account pages
// themselves, the return path they already carry.
function returnPath(path: string): string {
  const search = window.location.search;
  if (path === "/login" || path === "/signup") return safeNext(new URLSearchParams(search).get("next"));
  return path + search;
}

export function TopBar({ user, path, guestLinks = true }: { user: User | null; path: string; guestLinks?: boolean }) {
  const out = async () => {
    await logout();
    navigate("/login", { replace: true });
  };
  return (
    <header class="topbar" data-testid="topbar">
      <Link href="/" class="brand">
        <span class="brand-mark" aria-hidden="true">
          {"</>"}
        </span>
        collab
      </Link>
      {user && (
        <nav class="topnav">
          <Link href="/" class={path === "/" ? "active" : ""} aria-current={path === "/" ? "page" : undefined}>
            Dashboard
          </Link>
        </nav>
      )}
      <div class="topbar-spacer" />
      {user ? (
        <div class="topbar-user">
          <Link href="/profile" class="user-chip" title="Your profile" data-testid="user-menu">
            <Avatar person={user} size={26} />
            <span class="user-name">{displayName(user)}</span>
          </Link>
          <Link href="/settings/security" class={`btn btn-ghost btn-small${path === "/settings/security" ? " active" : ""}`} title="Two-factor, API keys, devices" data-testid="security-link">
            Security
          </Link>
          <button type="button" class="btn btn-ghost btn-small" onClick={out} data-testid="logout">
            Log out
          </button>
        </div>
      ) : (
        guestLinks && (
        <div class="topbar-user">
          <Link href={loginPath(returnPath(path))} class="btn btn-ghost btn-small">
            Log in
          </Link>
          <Link href={loginPath(returnPath(path), "/signup")} class="btn btn-primary btn-small">
            Sign up
          </Link>
        </div>
        )
      )}
    </header>
  );
}
