/**
 * Edit organization info → Security (seed 001 Security a–c, and the Authentication section's
 * local two-factor setting). Web restores is the `device_webRestore_enabled` packet (inherited key
 * by key; its Lock keeps child organizations from changing it); client visibility and two-factor
 * authentication are the security group, inherited together. A setting locked by an ancestor is
 * shown with the org that locked it and cannot be changed (the authority refuses it too,
 * `SETTING_LOCKED`).
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { putPackets } from "../api/orgs.js";
import type { SettingPacket } from "../api/types.js";
import { LockedBadge, LockToggle, Select, Switch } from "../ui/forms.js";
import { useGroupDraft } from "./group-draft.js";
import type { OrgInfoData } from "./org-info.js";
import { InheritBox, LockedRow, NameField, providerOf, ReadOnlyNote, readOnlyGroup, SaveBar } from "./settings-common.js";

/** The web-restore packet key. */
export const WEB_RESTORE = "device_webRestore_enabled";

/** The Security tab. */
export function SecurityTab({ data, packets, onSaved }: { data: OrgInfoData; packets: Record<string, SettingPacket>; onSaved: () => Promise<void> }) {
  const { org, ancestors } = data;
  const g = useGroupDraft(org, "security", ["twoFactorRequired", "clientVisibility"]);
  const from = providerOf(org, ancestors, "security");
  const readOnly = readOnlyGroup(org, "security");
  const nameOf = (id: number | undefined) => (id === org.orgId ? org.orgName : (ancestors.find((a) => a.orgId === id)?.orgName ?? "the parent organization"));
  const wr: SettingPacket = packets[WEB_RESTORE] ?? { value: "true", locked: false };
  const wrLockedAbove = wr.locked === true && wr.id !== org.orgId;
  const wrOwnLock = wr.lockedForChildren ?? org.settingsMeta?.ownLocks.includes(`packets.${WEB_RESTORE}`) ?? false;
  const initialWr = { inherit: wr.id !== org.orgId, value: wr.value, locked: wrOwnLock };
  const [wrDraft, setWrDraft] = useState(initialWr);
  const wrDirty = JSON.stringify(wrDraft) !== JSON.stringify(initialWr);
  const groupRow = (field: string, label: string, control: (disabled: boolean) => ComponentChildren) => (
    <LockedRow locks={g.locks} k={`security.${field}`} label={label} inheriting={g.inherit} readOnly={readOnly}>
      {control}
    </LockedRow>
  );
  return (
    <form onSubmit={(e) => e.preventDefault()} aria-label="Security" data-testid="security-form">
      <NameField value={g.name} onInput={g.setName} />
      {readOnly && <ReadOnlyNote group="security" />}
      <h2>Web restores</h2>
      <fieldset class="setting-row" disabled={readOnly} data-testid={`setting-packets.${WEB_RESTORE}`}>
        <div class="setting-main">
          <Switch
            label="Web restores (zip file)"
            checked={wrDraft.value === "true"}
            disabled={wrLockedAbove || wrDraft.inherit}
            testId="web-restores"
            onChange={(v) => setWrDraft({ ...wrDraft, value: v ? "true" : "false" })}
          />
          <p class="hint">
            Whether users can restore files from the console as a zip file (device restores are not affected). Disabled, the authority never decrypts archive
            data.
          </p>
          {!wrLockedAbove && (
            <label class="inline">
              <input
                type="checkbox"
                checked={wrDraft.inherit}
                onChange={(e) => setWrDraft({ ...wrDraft, inherit: e.currentTarget.checked, value: wr.value })}
              />{" "}
              Inherit from parent
            </label>
          )}
          {(wrDraft.inherit || wrLockedAbove) && (
            <p class="from" data-testid="web-restores-from">
              {wrLockedAbove ? "Locked by" : "Inherited from"} {wr.id === undefined ? "the system-wide defaults" : nameOf(wr.id)}
            </p>
          )}
        </div>
        <div>
          {wrLockedAbove ? (
            <LockedBadge by={nameOf(wr.id)} />
          ) : (
            <LockToggle label="Web restores" locked={wrDraft.locked} disabled={wrDraft.inherit} onChange={(v) => setWrDraft({ ...wrDraft, locked: v })} />
          )}
        </div>
      </fieldset>
      <h2>Client and sign-in</h2>
      <InheritBox
        label="Inherit security settings from parent"
        inherit={g.inherit}
        onChange={g.toggle}
        from={from}
        testId="inherit-security"
        disabled={readOnly}
      />
      {groupRow("clientVisibility", "Client visibility", (d) => (
        <Select
          label="Client visibility"
          value={(g.shown("clientVisibility") ?? "visible") as "visible" | "hidden"}
          disabled={d}
          onChange={(v) => g.set("clientVisibility", v)}
          hint="Hidden: the agent shows no status output or notifications on the device; backups continue."
          options={[
            { value: "visible", label: "Visible" },
            { value: "hidden", label: "Hidden" },
          ]}
        />
      ))}
      {groupRow("twoFactorRequired", "Local two-factor authentication", (d) => (
        <Switch
          label="Local two-factor authentication"
          checked={g.shown("twoFactorRequired") === true}
          disabled={d}
          onChange={(v) => g.set("twoFactorRequired", v)}
          hint="Enabled: local users of this organization sign in to the console with a code from an authenticator app as well as their password."
        />
      ))}
      <SaveBar
        dirty={g.dirty || wrDirty}
        testId="save-security"
        onRevert={() => {
          g.revert();
          setWrDraft(initialWr);
        }}
        onSave={async () => {
          if (wrDirty && !wrLockedAbove)
            await putPackets(org.orgId, [
              wrDraft.inherit ? { key: WEB_RESTORE, value: null, locked: false } : { key: WEB_RESTORE, value: wrDraft.value, locked: wrDraft.locked },
            ]);
          if (g.dirty) await g.save();
          await onSaved();
        }}
      />
    </form>
  );
}
