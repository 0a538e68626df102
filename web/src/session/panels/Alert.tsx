// An error line the reader can dismiss (a refused action's message stays until then, or
// until the next attempt).
export function Alert({ message, testid, onClose }: { message: string; testid: string; onClose: () => void }) {
  return (
    <p class="pn-error pn-alert" role="alert">
      <span data-testid={testid}>{message}</span>
      <button type="button" class="pn-icon-button" aria-label="Dismiss" onClick={onClose}>
        ×
      </button>
    </p>
  );
}
