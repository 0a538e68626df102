// A request's failure as a sentence: the server's own message (ApiError.message), never JSON.
import type { ComponentChildren } from "preact";
import { ApiError } from "../api";

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong. Try again.";
}

export function ErrorBanner({ error, testId = "error" }: { error: unknown; testId?: string }) {
  if (error === null || error === undefined) return null;
  return (
    <div class="banner banner-error" role="alert" data-testid={testId}>
      {errorMessage(error)}
    </div>
  );
}

export function Notice({ children, kind = "info", testId }: { children: ComponentChildren; kind?: "info" | "success" | "warning"; testId?: string }) {
  return (
    <div class={`banner banner-${kind}`} role="status" data-testid={testId}>
      {children}
    </div>
  );
}
