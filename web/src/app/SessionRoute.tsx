// The session page's slot: H5's SessionPage (web/src/session/SessionPage.tsx) goes here.
// Until it lands, a placeholder keeps the route (and `?file=`) working end to end.
import { useTitle } from "./useTitle";

export function SessionRoute({ sessionId, file }: { sessionId: string; file: string | null }) {
  useTitle("Session");
  return (
    <div class="placeholder" data-testid="session-placeholder">
      <p>
        Session <code>{sessionId}</code>
        {file ? (
          <>
            {" "}
            — file <code>{file}</code>
          </>
        ) : null}
      </p>
    </div>
  );
}
