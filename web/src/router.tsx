// A tiny history-API router: the current location as a hook, `navigate()` for code, `<Link>`
// for markup (no full reloads), and the `?next=` rule for returning after logging in.
import type { ComponentChildren, TargetedMouseEvent } from "preact";
import { useEffect, useState } from "preact/hooks";

export interface Location {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

function announce(): void {
  for (const listener of listeners) listener();
}

window.addEventListener("popstate", announce);

// Goes to an app path ("/x?y=z"); `replace` keeps the current entry out of the history (for
// redirects, so Back does not bounce into them again).
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (options.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  window.scrollTo(0, 0);
  announce();
}

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () =>
      setLocation((was) => {
        const now = current();
        return was.path === now.path && was.query.toString() === now.query.toString() ? was : now;
      });
    listeners.add(update);
    // A child's effect may have navigated before this one subscribed (children's effects
    // run first): catch up.
    update();
    return () => {
      listeners.delete(update);
    };
  }, []);
  return location;
}

// "/workspaces/:wsId" against "/workspaces/42" → {wsId: "42"}; null when it does not match.
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/");
  const got = path.replace(/\/+$/, "").split("/");
  if (path === "/") got.splice(1, 1, "");
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) {
      if (!got[i]) return null;
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== got[i]) {
      return null;
    }
  }
  return params;
}

// Only a path on this site: "//evil.example" and "/\evil.example" are other sites to a browser.
// So is "/<TAB>/evil.example": the URL parser drops tabs and newlines anywhere. The path is
// read the way the browser will read it, and kept only when it stays on this origin.
export function safeNext(next: string | null | undefined, fallback = "/"): string {
  if (!next || !next.startsWith("/")) return fallback;
  let url: URL;
  try {
    url = new URL(next, window.location.origin);
  } catch {
    return fallback;
  }
  if (url.origin !== window.location.origin) return fallback;
  return url.pathname + url.search + url.hash;
}

// "/login?next=/sessions/1" for the page the visitor is on now.
export function loginPath(next = window.location.pathname + window.location.search, page = "/login"): string {
  return next === "/" ? page : `${page}?next=${encodeURIComponent(next)}`;
}

export interface LinkProps {
  href: string;
  replace?: boolean;
  class?: string;
  title?: string;
  onClick?: (event: TargetedMouseEvent<HTMLAnchorElement>) => void;
  "aria-current"?: "page" | undefined;
  "data-testid"?: string;
  children?: ComponentChildren;
}

export function Link({ href, replace, onClick, children, ...rest }: LinkProps) {
  const click = (event: TargetedMouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    // New tabs, downloads and other modified clicks stay the browser's.
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href, { replace });
  };
  return (
    <a href={href} onClick={click} {...rest}>
      {children}
    </a>
  );
}
