// A modal dialog (Escape and the backdrop close it) and a confirm dialog built on it, so no
// page needs window.confirm (which tests and some browsers block).
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { Button } from "./Button";
import { ErrorBanner } from "./ErrorBanner";

export interface DialogProps {
  title: string;
  onClose: () => void;
  children?: ComponentChildren;
  testId?: string;
}

export function Dialog({ title, onClose, children, testId }: DialogProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    document.addEventListener("keydown", key);
    // Focus the first field (or button) so keyboards start inside the dialog.
    box.current?.querySelector<HTMLElement>("input, select, textarea, button")?.focus();
    return () => document.removeEventListener("keydown", key);
  }, [onClose]);
  return (
    <div class="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label={title} ref={box} data-testid={testId}>
        <header class="dialog-header">
          <h2>{title}</h2>
          <button type="button" class="dialog-close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        <div class="dialog-body">{children}</div>
      </div>
    </div>
  );
}

export interface ConfirmDialogProps {
  title: string;
  message: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => Promise<unknown>; // the dialog stays open with the error if this throws
  onClose: () => void;
}

export function ConfirmDialog({ title, message, confirmLabel, danger = false, onConfirm, onClose }: ConfirmDialogProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <Dialog title={title} onClose={onClose} testId="confirm-dialog">
      <div class="dialog-message">{message}</div>
      <ErrorBanner error={error} />
      <div class="actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button variant={danger ? "danger" : "primary"} busy={busy} onClick={confirm} data-testid="confirm-button">
          {confirmLabel}
        </Button>
      </div>
    </Dialog>
  );
}
