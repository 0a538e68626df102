// "Continue with GitHub / Google": only the providers the server has configured
// (`GET /api/auth/providers` → {providers: [...]}); none when it does not say.
import { api } from "../../api";
import { useLoad } from "../../ui/useLoad";

const LABELS: Record<string, string> = { github: "GitHub", google: "Google" };

// Where to return after the provider: kept for the trip in this tab only (a path, no secret).
export const OAUTH_NEXT_KEY = "collab.oauth.next";

export function OAuthButtons({ next }: { next: string }) {
  const providers = useLoad(async () => {
    try {
      const answer = await api<{ providers?: unknown }>("GET", "/api/auth/providers", { auth: false });
      const list = Array.isArray(answer?.providers) ? answer.providers : [];
      // Either ["github"] or [{name: "github", ...}].
      return list.map((p) => (typeof p === "string" ? p : String((p as { name?: unknown }).name ?? ""))).filter(Boolean);
    } catch {
      return [] as string[];
    }
  }, []);
  const names = providers.data ?? [];
  if (names.length === 0) return null;
  return (
    <div class="oauth" data-testid="oauth-buttons">
      <div class="divider">
        <span>or</span>
      </div>
      {names.map((name) => (
        <a
          key={name}
          class={`btn btn-secondary btn-block oauth-${name}`}
          href={`/api/auth/oauth/${encodeURIComponent(name)}/authorize`}
          onClick={() => sessionStorage.setItem(OAUTH_NEXT_KEY, next)}
          data-testid={`oauth-${name}`}
        >
          Continue with {LABELS[name] ?? name}
        </a>
      ))}
    </div>
  );
}
