// The app's entry: restore the login (one cookie refresh), then render the shell.
import { render } from "preact";
import { App } from "./app/App";
import { restore } from "./auth";
import { OAUTH_NEXT_KEY } from "./pages/account/OAuthButtons";
import { navigate, safeNext } from "./router";
import "./styles.css";

const root = document.getElementById("app")!;

async function start(): Promise<void> {
  try {
    const me = await restore();
    // Back from GitHub/Google: the server set the refresh cookie and sent us to `/`; go on
    // to the page the person started from.
    const next = sessionStorage.getItem(OAUTH_NEXT_KEY);
    // A provider login with two-factor on lands on /login#mfa_token=: the login page keeps
    // the remembered page for after the code.
    const pendingMfa =
      window.location.pathname === "/login" && window.location.hash.includes("mfa_token=");
    // The callback page of a front-end-URL provider login reads it itself (and requires it).
    const callback = window.location.pathname === "/oauth/callback";
    if (next !== null && !pendingMfa && !callback) {
      sessionStorage.removeItem(OAUTH_NEXT_KEY);
      if (me && window.location.pathname === "/") navigate(safeNext(next), { replace: true });
    }
  } catch {
    // Offline or the server is down: start logged out; the pages say what fails.
  }
  render(<App />, root);
}

void start();
