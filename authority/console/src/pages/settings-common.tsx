/**
 * Pieces shared by the settings screens: where a group's values come from, locks (held by an
 * ancestor, or set here for the children), the inherit switch box, and the save bar.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";
import type { OrgWithSettings } from "../api/types.js";
import { LockedBadge, LockToggle, Switch, TextField } from "../ui/forms.js";
import { type LeaveRule, setUnsaved } from "../router.js";
import { notify } from "../ui/status.js";

/** The platform flag of each whole-group setting group. */
export const GROUP_FLAGS = {
  quota: "isUsingQuotaDefaults",
  reporting: "isUsingReportingDefaults",
  security: "securityKeyInherit",
  destinations: "isUsingDestinationDefaults",
  device: "isUsingDeviceDefaults",
} as const;

/** A settings group. */
export type Group = keyof typeof GROUP_FLAGS;

/**
 * The org a group's inherited values come from: the authority's `settingsMeta` when it sends it,
 * else the nearest ancestor overriding the group, else the system-wide defaults.
 */
export function providerOf(org: OrgWithSettings, ancestors: OrgWithSettings[], group: Group): string {
  const meta = org.settingsMeta;
  if (meta) {
    const src = meta.groupSource[group];
    if (src && src.orgId !== org.orgId) return src.orgName;
    if (src && org.parentOrgId === null) return "the system-wide defaults";
    const above = meta.parentSource?.[group];
    if (src && above !== undefined) return above === null ? "the system-wide defaults" : (above.orgName ?? "the parent organization");
    if (src) {
      // The org overrides the group: its values would otherwise come from the nearest ancestor that does.
      for (const a of ancestors) if (a.settingsMeta?.inherits[group] === false) return a.orgName;
    }
  }
  for (const a of ancestors) if ((a.settings as Record<string, unknown>)[GROUP_FLAGS[group]] === false) return a.orgName;
  return reachesRoot(org, ancestors) ? "the system-wide defaults" : "the parent organization";
}

/**
 * Whether the visible ancestors go up to the top organization. An org admin does not see the
 * orgs above their own, so what those provide is "the parent organization", not the system-wide
 * defaults.
 */
function reachesRoot(org: OrgWithSettings, ancestors: OrgWithSettings[]): boolean {
  const top = ancestors.length === 0 ? org : (ancestors[ancestors.length - 1] as OrgWithSettings);
  return top.parentOrgId === null || top.parentOrgId === undefined;
}

/** Whether the signed-in administrator may not change `group` at `org` (the authority's `settingsMeta.editable`). */
export function readOnlyGroup(org: OrgWithSettings, group: Group): boolean {
  return org.settingsMeta?.editable?.[group] === false;
}

/** Why a group's form is read only. */
export function ReadOnlyNote({ group }: { group: Group }) {
  return (
    <p class="hint" role="note" data-testid={`read-only-${group}`}>
      {group === "quota"
        ? "Only an administrator with rights on the parent organization can change quotas."
        : "Your role cannot change these settings; they are shown read only."}
    </p>
  );
}

/** Locks of one org and the draft of its own lock changes. */
export interface Locks {
  /** Whether the authority tells the console about locks of this group's fields. */
  known: boolean;
  /** The ancestor that locks `key`, or null. */
  lockedBy: (key: string) => string | null;
  /** Whether this org locks `key` for its children (draft value). */
  own: (key: string) => boolean;
  set: (key: string, on: boolean) => void;
  /** The changed locks, for `settingsLocks` in the PUT. */
  changes: Record<string, boolean>;
  reset: () => void;
  /** False where this screen sets no locks (a device's settings): badges only, no toggles. */
  lockable?: boolean;
}

/** Lock state over `settingsMeta`. */
export function useLocks(org: OrgWithSettings): Locks {
  const [changes, setChanges] = useState<Record<string, boolean>>({});
  const meta = org.settingsMeta;
  return {
    known: meta !== undefined,
    lockedBy: (k) => meta?.lockedBy[k]?.orgName ?? null,
    own: (k) => changes[k] ?? meta?.ownLocks.includes(k) ?? false,
    set: (k, on) => {
      const c = { ...changes };
      if ((meta?.ownLocks.includes(k) ?? false) === on) delete c[k];
      else c[k] = on;
      setChanges(c);
    },
    changes,
    reset: () => setChanges({}),
  };
}

/** A setting with its lock: the badge when an ancestor locks it, else the lock toggle. */
export function LockedRow(p: {
  locks: Locks;
  k: string;
  label: string;
  children: (disabled: boolean) => ComponentChildren;
  inheriting: boolean;
  /** The signed-in administrator may not change this group here ({@link readOnlyGroup}). */
  readOnly?: boolean;
}) {
  const by = p.locks.lockedBy(p.k);
  const readOnly = p.readOnly === true;
  return (
    <div class="setting-row" data-testid={`setting-${p.k}`}>
      <div class="setting-main">{p.children(by !== null || p.inheriting || readOnly)}</div>
      {p.locks.known && (
        <div>
          {by !== null ? (
            <LockedBadge by={by} />
          ) : p.locks.lockable === false ? null : (
            // While inheriting, a lock this org holds can still be lifted (it could not be, once the org went back to inheriting).
            <LockToggle
              label={p.label}
              locked={p.locks.own(p.k)}
              disabled={readOnly || (p.inheriting && !p.locks.own(p.k))}
              onChange={(v) => p.locks.set(p.k, v)}
            />
          )}
        </div>
      )}
    </div>
  );
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
export function SaveBar({
  dirty,
  onSave,
  onRevert,
  testId,
  leaveRule = "tab",
}: {
  dirty: boolean;
  onSave: () => Promise<void>;
  onRevert: () => void;
  testId: string;
  /** "page" when the form's draft spans the page's tabs (device defaults), "tab" when it is one tab's. */
  leaveRule?: LeaveRule;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Saved, and waiting for the reloaded settings to clear `dirty`: nothing is unsaved meanwhile.
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (!dirty) setSaved(false);
  }, [dirty]);
  // While saving, leaving is fine: the changes are on their way.
  useLeaveGuard(dirty && !saved && !busy, leaveRule);
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
            setSaved(true);
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

/** While `dirty`, leaving the view asks first (the router's unsaved-changes guard). */
export function useLeaveGuard(dirty: boolean, rule: LeaveRule = "tab"): void {
  const id = useMemo(() => Symbol("unsaved form"), []);
  // At render, not in an effect (which runs after paint): a navigation right after a save or an
  // edit must see the state the screen shows.
  setUnsaved(id, dirty, rule);
  useEffect(() => () => setUnsaved(id, false), [id]);
}

/** The Name field every tab starts with (seed item a). */
export function NameField({ value, onInput }: { value: string; onInput: (v: string) => void }) {
  return <TextField label="Name" value={value} onInput={onInput} required minLength={3} maxLength={220} />;
}
