/**
 * A modal dialog on the native `<dialog>` element (focus moves in and is trapped by the browser,
 * Escape closes), with a title, a body, and a form whose submit runs the action.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";

/** What {@link Dialog} takes. */
export interface DialogProps {
  title: string;
  onClose: () => void;
  /** Runs on submit; the dialog closes when it resolves and shows the error when it throws. */
  onSubmit?: () => Promise<void>;
  submitLabel?: string;
  danger?: boolean;
  children: ComponentChildren;
  testId?: string;
  wide?: boolean;
}

/** The dialog, open from the moment it is rendered. */
export function Dialog(p: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!p.onSubmit || busy) return;
    setBusy(true);
    setError(null);
    try {
      await p.onSubmit();
      p.onClose();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  const titleId = `dlg-${p.title.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <dialog
      ref={ref}
      class={p.wide ? "dialog dialog-wide" : "dialog"}
      aria-labelledby={titleId}
      data-testid={p.testId ?? "dialog"}
      onCancel={(e) => {
        e.preventDefault();
        p.onClose();
      }}
    >
      <form method="dialog" onSubmit={submit} noValidate>
        <h2 id={titleId}>{p.title}</h2>
        <div class="dialog-body">{p.children}</div>
        {error && (
          <p class="form-error" role="alert" data-testid="dialog-error">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={p.onClose}>
            {p.onSubmit ? "Cancel" : "Close"}
          </button>
          {p.onSubmit && (
            <button type="submit" class={p.danger ? "btn btn-danger" : "btn btn-primary"} disabled={busy}>
              {busy ? "Working…" : (p.submitLabel ?? "Save")}
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}
