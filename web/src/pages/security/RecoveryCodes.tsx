// Freshly made recovery codes, shown once: copy them or download them as a text file.
import { useState } from "preact/hooks";
import { Button } from "../../ui/Button";
import { Notice } from "../../ui/ErrorBanner";
import { downloadText } from "./download";

export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const text = codes.join("\n") + "\n";
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      // No clipboard permission: the codes are on screen and downloadable.
    }
  };
  return (
    <div class="recovery" data-testid="recovery-codes">
      <Notice kind="warning">
        Save these recovery codes somewhere safe. Each one logs you in once if you lose your authenticator app. They will not be shown again.
      </Notice>
      <ol class="recovery-list">
        {codes.map((code) => (
          <li key={code}>
            <code data-testid="recovery-code">{code}</code>
          </li>
        ))}
      </ol>
      <div class="actions actions-start">
        <Button small onClick={copy} data-testid="recovery-copy">
          {copied ? "Copied" : "Copy"}
        </Button>
        <Button small onClick={() => downloadText("collab-recovery-codes.txt", text)} data-testid="recovery-download">
          Download
        </Button>
        <div class="actions-spacer" />
        <Button small variant="primary" onClick={onDone} data-testid="recovery-done">
          I have saved them
        </Button>
      </div>
    </div>
  );
}
