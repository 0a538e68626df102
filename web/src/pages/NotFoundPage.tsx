// Any path the app does not know.
import { useTitle } from "../app/useTitle";
import { Link } from "../router";

export function NotFoundPage({ title = "Page not found", message = "There is nothing at this address. It may have moved, or the link may be mistyped." }: { title?: string; message?: string }) {
  useTitle(title);
  return (
    <section class="empty-page" data-testid="not-found">
      <p class="empty-code">404</p>
      <h1>{title}</h1>
      <p class="muted">{message}</p>
      <Link href="/" class="btn btn-primary">
        Go to your dashboard
      </Link>
    </section>
  );
}
