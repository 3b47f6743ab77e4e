/**
 * Edit organization info → Security (seed 001 Security a–c): web restores (zip) enabled or
 * disabled, client visibility, each with a Lock that keeps child organizations from changing it.
 * These are `/api/OrgSetting` packets: a packet locked by an ancestor is shown with the org that
 * locked it and cannot be changed here (the authority refuses it too, `SETTING_LOCKED`).
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { putPackets } from "../api/orgs.js";
import type { OrgWithSettings, SettingPacket } from "../api/types.js";
import { LockedBadge, LockToggle, Select, Switch } from "../ui/forms.js";
import { InheritBox, SaveBar } from "./settings-common.js";

/** The packets of this tab and their defaults. */
export const SECURITY_PACKETS = { webRestore: "device_webRestore_enabled", visibility: "device_client_visibility" } as const;
const DEFAULTS: Record<string, string> = { [SECURITY_PACKETS.webRestore]: "true", [SECURITY_PACKETS.visibility]: "visible" };

interface Item {
  value: string;
  locked: boolean;
}

/** The Security tab. */
export function SecurityTab(p: { org: OrgWithSettings; ancestors: OrgWithSettings[]; packets: Record<string, SettingPacket>; onSaved: () => void }) {
  const keys = Object.values(SECURITY_PACKETS);
  const nameOf = (id: number | undefined) =>
    id === p.org.orgId ? p.org.orgName : (p.ancestors.find((a) => a.orgId === id)?.orgName ?? `organization ${id ?? "?"}`);
  const pk = (k: string): SettingPacket => p.packets[k] ?? { value: DEFAULTS[k] as string, locked: false };
  /** Set at this org (not inherited). */
  const ownHere = (k: string) => p.packets[k]?.id === p.org.orgId;
  /** Locked by an ancestor: cannot be changed here. */
  const lockedAbove = (k: string) => pk(k).locked === true && pk(k).id !== p.org.orgId;
  /** Locked by this org for its children. */
  const lockingHere = (k: string) => ownHere(k) && p.packets[k]?.lockedForChildren === true;
  const initial = (): { inherit: boolean; items: Record<string, Item> } => ({
    inherit: !keys.some(ownHere),
    items: Object.fromEntries(keys.map((k) => [k, { value: pk(k).value, locked: lockingHere(k) }])),
  });
  const [draft, setDraft] = useState(initial);
  const anyLockedAbove = keys.some(lockedAbove);
  const dirty = JSON.stringify(draft) !== JSON.stringify(initial());
  const from = (() => {
    const ids = keys.map((k) => pk(k).id).filter((id) => id !== undefined && id !== p.org.orgId);
    return ids.length ? nameOf(ids[0]) : "the system-wide defaults";
  })();
  const setItem = (k: string, change: Partial<Item>) => setDraft({ ...draft, items: { ...draft.items, [k]: { ...(draft.items[k] as Item), ...change } } });
  const row = (k: string, label: string, control: (disabled: boolean) => ComponentChildren, hint: string) => {
    const above = lockedAbove(k);
    const disabled = above || draft.inherit;
    return (
      <div class="setting-row" data-testid={`setting-${k}`}>
        <div>
          {control(disabled)}
          <p class="hint">{hint}</p>
          {draft.inherit && !above && <p class="from">Inherited from {ownHere(k) ? from : nameOf(pk(k).id)}</p>}
        </div>
        <div>
          {above ? (
            <LockedBadge by={nameOf(pk(k).id)} />
          ) : (
            <LockToggle label={label} locked={draft.items[k]?.locked ?? false} disabled={draft.inherit} onChange={(v) => setItem(k, { locked: v })} />
          )}
        </div>
      </div>
    );
  };
  return (
    <form onSubmit={(e) => e.preventDefault()} aria-label="Security" data-testid="security-form">
      <InheritBox
        label="Inherit security settings from parent"
        inherit={draft.inherit}
        from={from}
        testId="inherit-security"
        disabled={anyLockedAbove && draft.inherit}
        onChange={(v) => setDraft(v ? { ...draft, inherit: true } : { ...draft, inherit: false })}
        note={anyLockedAbove ? " Settings locked by a parent organization stay as the parent set them." : undefined}
      />
      {row(
        SECURITY_PACKETS.webRestore,
        "Web restores",
        (disabled) => (
          <Switch
            label="Web restores (zip file)"
            checked={draft.items[SECURITY_PACKETS.webRestore]?.value === "true"}
            disabled={disabled}
            testId="web-restores"
            onChange={(v) => setItem(SECURITY_PACKETS.webRestore, { value: v ? "true" : "false" })}
          />
        ),
        "Whether users of this organization can restore files from the console as a zip file. Device restores are not affected. Disabled, no plaintext ever touches the server.",
      )}
      {row(
        SECURITY_PACKETS.visibility,
        "Client visibility",
        (disabled) => (
          <Select
            label="Client visibility"
            value={(draft.items[SECURITY_PACKETS.visibility]?.value ?? "visible") as "visible" | "hidden"}
            disabled={disabled}
            onChange={(v) => setItem(SECURITY_PACKETS.visibility, { value: v })}
            options={[
              { value: "visible", label: "Visible: users see the agent's status and notifications" },
              { value: "hidden", label: "Hidden: the agent shows no status output or notifications; backups continue" },
            ]}
          />
        ),
        "How the Cairn agent appears to users on their devices.",
      )}
      <SaveBar
        dirty={dirty}
        testId="save-security"
        onRevert={() => setDraft(initial())}
        onSave={async () => {
          const editable = keys.filter((k) => !lockedAbove(k));
          const packets = editable.map((k) =>
            draft.inherit ? { key: k, value: null, locked: false } : { key: k, value: draft.items[k]?.value ?? "", locked: draft.items[k]?.locked ?? false },
          );
          await putPackets(p.org.orgId, packets);
          p.onSaved();
        }}
      />
    </form>
  );
}
