/** Loading, empty and error states, and the toast region for action results. */
import { signal } from "@preact/signals";
import type { ComponentChildren } from "preact";

/** A spinner line announced politely to screen readers. */
export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p class="state state-loading" role="status" data-testid="loading">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

/** An error with an optional retry. */
export function ErrorState({ message, onRetry }: { message: string; onRetry?: () => void }) {
  return (
    <div class="state state-error" role="alert" data-testid="error">
      <p>{message}</p>
      {onRetry && (
        <button type="button" class="btn" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Nothing to show. */
export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <p class="state state-empty" data-testid="empty">
      {children}
    </p>
  );
}

/** One toast message. */
export interface Toast {
  id: number;
  kind: "ok" | "error";
  text: string;
}

/** The visible toasts. */
export const toasts = signal<Toast[]>([]);
let nextToast = 1;

/** Shows a short message (success or failure of an action) for a few seconds. */
export function notify(text: string, kind: "ok" | "error" = "ok"): void {
  const id = nextToast++;
  toasts.value = [...toasts.value, { id, kind, text }].slice(-3);
  setTimeout(() => {
    toasts.value = toasts.value.filter((t) => t.id !== id);
  }, 6000);
}

/** The live region that shows toasts. */
export function Toasts() {
  return (
    <div class="toasts" aria-live="polite" aria-atomic="false">
      {toasts.value.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`} role={t.kind === "error" ? "alert" : "status"} data-testid="toast">
          {t.text}
        </div>
      ))}
    </div>
  );
}
