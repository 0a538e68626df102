// "Open preview": a plain link to `deployment_url`, which a private deployment's link
// carries the access token on only at the moment it is clicked (never left in the page).
import { currentAccessToken, freshAccessToken } from "../../auth";
import type { Deployment } from "../context";
import { previewUrl } from "./deployments";

export function PreviewLink({ deployment }: { deployment: Deployment }) {
  const bare = String(deployment.deployment_url ?? "");
  const click = (e: MouseEvent) => {
    if (deployment.public === true) return;
    const link = e.currentTarget as HTMLAnchorElement;
    const token = currentAccessToken();
    if (token) {
      // Synchronously, so the browser's own navigation (new tab, no opener) takes it.
      link.href = previewUrl(deployment, token);
      setTimeout(() => (link.href = bare), 0);
      return;
    }
    // No token in memory right now (it is being refreshed): wait for one, then open.
    e.preventDefault();
    void freshAccessToken().then((fresh) => {
      window.open(previewUrl(deployment, fresh), "_blank", "noopener,noreferrer");
    });
  };
  return (
    <a
      class="pn-button pn-primary pn-link-button"
      href={bare}
      target="_blank"
      rel="noopener noreferrer"
      data-testid="preview-link"
      data-public={String(deployment.public === true)}
      // Refresh ahead, so the click finds a token that lasts.
      onPointerEnter={() => void freshAccessToken()}
      onFocus={() => void freshAccessToken()}
      onClick={click}
    >
      Open preview ↗
    </a>
  );
}
