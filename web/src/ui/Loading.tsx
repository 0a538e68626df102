// What a page shows while its data loads.
export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div class="loading" role="status" data-testid="loading">
      <span class="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}
