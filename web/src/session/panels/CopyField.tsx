// A read-only field with a Copy button: the clipboard when the browser allows it, otherwise
// the text is selected for the person to copy themselves.
import { useRef, useState } from "preact/hooks";

export function CopyField({ value, testid, label }: { value: string; testid: string; label: string }) {
  const field = useRef<HTMLInputElement>(null);
  const [note, setNote] = useState<string | null>(null);
  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(value);
      setNote("Copied");
    } catch {
      // No clipboard (an insecure origin, or permission refused): select it instead.
      field.current?.focus();
      field.current?.select();
      setNote("Selected: press Ctrl+C (⌘C) to copy");
    }
  };
  return (
    <div class="pn-copy">
      <input ref={field} class="pn-input pn-mono" readOnly value={value} aria-label={label} data-testid={testid}
        onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
      <button type="button" class="pn-button" data-testid={`${testid}-copy`} onClick={() => void copy()}>
        Copy
      </button>
      {note && <span class="pn-muted pn-small" aria-live="polite" data-testid={`${testid}-note`}>{note}</span>}
    </div>
  );
}
