// The IDE (CodeMirror, Yjs, Socket.IO, xterm.js) is most of the bundle: it loads only when a
// session is opened, so the log-in page, the lists and the invitation pages stay light.
import type { FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Loading } from "../ui/Loading";

interface Props {
  sessionId: string;
  file: string | null;
}

let loaded: FunctionComponent<Props> | null = null;

export function LazySessionPage(props: Props) {
  const [Page, setPage] = useState<FunctionComponent<Props> | null>(() => loaded);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (Page) return;
    import("../session/SessionPage").then(
      (module) => {
        loaded = module.SessionPage;
        setPage(() => module.SessionPage);
      },
      () => setFailed(true),
    );
  }, [Page]);
  if (failed) return <p class="page-error">The editor could not be loaded. Check your connection and reload.</p>;
  return Page ? <Page {...props} /> : <Loading label="Opening the editor…" />;
}
