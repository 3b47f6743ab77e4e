/** Pieces shared by the settings screens: the inherit switch box, "from" labels, the save bar. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";
import type { OrgWithSettings } from "../api/types.js";
import { Switch } from "../ui/forms.js";
import { notify } from "../ui/status.js";

/** The org a group's values come from: the nearest ancestor overriding it, else the system defaults. */
export function providerOf(ancestors: OrgWithSettings[], flag: string): string {
  for (const a of ancestors) if ((a.settings as Record<string, unknown>)[flag] === false) return a.orgName;
  return "the system-wide defaults";
}

/** The "Inherit … from parent" switch with where the values come from. */
export function InheritBox(p: {
  label: string;
  inherit: boolean;
  onChange: (v: boolean) => void;
  from: string;
  disabled?: boolean;
  testId: string;
  note?: ComponentChildren;
}) {
  return (
    <div class="inherit-box">
      <Switch label={p.label} checked={p.inherit} onChange={p.onChange} disabled={p.disabled ?? false} testId={p.testId} />
      <p class="hint" data-testid={`${p.testId}-from`}>
        {p.inherit ? (
          <>
            Inherited from <strong>{p.from}</strong>. Turn this off to set values for this organization.
          </>
        ) : (
          <>This organization sets its own values; changes at {p.from} do not reach it.</>
        )}
        {p.note}
      </p>
    </div>
  );
}

/** The Save / Revert bar of a settings tab; shows the error of a failed save. */
export function SaveBar({ dirty, onSave, onRevert, testId }: { dirty: boolean; onSave: () => Promise<void>; onRevert: () => void; testId: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <div class="form-footer">
      <button
        type="button"
        class="btn btn-primary"
        disabled={!dirty || busy}
        data-testid={testId}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            await onSave();
            notify("Settings saved.");
          } catch (e) {
            setError(errorMessage(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? "Saving…" : "Save"}
      </button>
      <button type="button" class="btn" disabled={!dirty || busy} onClick={onRevert}>
        Revert
      </button>
      {error && (
        <span class="form-error" role="alert" data-testid="save-error">
          {error}
        </span>
      )}
    </div>
  );
}
