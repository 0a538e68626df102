// A read-only value (a link, a token) with a Copy button.
import { useRef, useState } from "preact/hooks";
import { Button } from "./Button";

export interface CopyFieldProps {
  value: string;
  label?: string;
  testId?: string; // on the input, e.g. "invite-link"; the button gets `${testId}-copy`
}

export function CopyField({ value, label, testId }: CopyFieldProps) {
  const [copied, setCopied] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // No clipboard permission (plain http, an old browser): select it for Ctrl+C instead.
      input.current?.select();
      return;
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div class="copy-field">
      {label && <span class="copy-label">{label}</span>}
      <div class="copy-row">
        <input ref={input} type="text" readOnly value={value} data-testid={testId} aria-label={label ?? "Link"} onFocus={(e) => e.currentTarget.select()} />
        <Button small onClick={copy} data-testid={testId ? `${testId}-copy` : undefined}>
          {copied ? "Copied" : "Copy"}
        </Button>
      </div>
    </div>
  );
}
