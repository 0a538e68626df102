// The Deploy button and its "public" choice (editors and owners).
import { useState } from "preact/hooks";

interface Props {
  busy: boolean;
  onDeploy: (isPublic: boolean) => void;
}

export function DeployControls({ busy, onDeploy }: Props) {
  const [isPublic, setPublic] = useState(false);
  return (
    <div class="pn-deploy">
      <button type="button" class="pn-button pn-primary" data-testid="deploy" disabled={busy} onClick={() => onDeploy(isPublic)}>
        {busy ? "Deploying…" : "Deploy"}
      </button>
      <label class="pn-check" title="A public preview opens for anyone with its link; a private one only for this session's participants">
        <input type="checkbox" name="public" data-testid="deploy-public" checked={isPublic}
          onChange={(e) => setPublic((e.currentTarget as HTMLInputElement).checked)} />
        Public
      </label>
    </div>
  );
}
