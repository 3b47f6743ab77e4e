/**
 * Device backup defaults (seed 001): "Use device defaults from parent", and the General, Backup,
 * Reporting, Security and Network tabs over the org's `deviceDefaults` tree (API.md §5.4) and its
 * key policy (`settings.securityKeyType`, raise-only). Saved with the whole-object PUT (§5.5).
 */
import { useEffect, useState } from "preact/hooks";
import { getOrgSettings, putOrg } from "../api/orgs.js";
import type { OrgWithSettings, SettingsTree } from "../api/types.js";
import { DEVICE_KEYS, DEVICE_LISTS, KEY_TYPES } from "../device-keys.js";
import { href, param, setQuery } from "../router.js";
import { cloneTree, readBool, readInt, readList, readScalar, writeList, writeScalar } from "../settings-tree.js";
import { useAsync } from "../ui/async.js";
import { LockedBadge, NumberField, Switch, TextArea, TextField } from "../ui/forms.js";
import { ErrorState, Loading } from "../ui/status.js";
import { TabPanel, Tabs } from "../ui/tabs.js";
import { BackupTab } from "./device-backup-tab.js";
import { InheritBox, SaveBar } from "./settings-common.js";

const TABS = [
  { id: "general", label: "General" },
  { id: "backup", label: "Backup" },
  { id: "reporting", label: "Reporting" },
  { id: "security", label: "Security" },
  { id: "network", label: "Network" },
];

/** Editing state of the screen: the tree, the inherit flag and the key policy. */
export interface DefaultsDraft {
  tree: SettingsTree;
  inherit: boolean;
  keyType: string;
  keyLocked: boolean;
}

/** A typed accessor over the draft tree for the tabs. */
export interface TreeAccess {
  int: (k: keyof typeof DEVICE_KEYS) => number;
  bool: (k: keyof typeof DEVICE_KEYS) => boolean;
  str: (k: keyof typeof DEVICE_KEYS) => string;
  locked: (k: keyof typeof DEVICE_KEYS) => boolean;
  set: (k: keyof typeof DEVICE_KEYS, v: string | number | boolean) => void;
  list: (k: keyof typeof DEVICE_LISTS) => string[];
  setList: (k: keyof typeof DEVICE_LISTS, v: string[]) => void;
  edit: (fn: (tree: SettingsTree) => void) => void;
  tree: SettingsTree;
  disabled: boolean;
}

function inheriting(org: OrgWithSettings): boolean {
  const flag = (org.settings as Record<string, unknown>).isUsingDeviceDefaults;
  if (typeof flag === "boolean") return flag;
  const by = org.orgInheritDto?.orgIdProvidingDeviceDefaults;
  return by !== undefined && by !== null && by !== org.orgId;
}

const initialDraft = (org: OrgWithSettings): DefaultsDraft => ({
  tree: cloneTree(org.deviceDefaults ?? {}),
  inherit: inheriting(org),
  keyType: org.settings.securityKeyType ?? "AccountPassword",
  keyLocked: org.settings.securityKeyLocked === true,
});

/** The screen. */
export function DeviceDefaults({ orgId }: { orgId: number }) {
  const tab = TABS.some((t) => t.id === param("tab")) ? param("tab") : "general";
  const data = useAsync((s) => getOrgSettings(orgId, s), [orgId]);
  const [draft, setDraft] = useState<DefaultsDraft | null>(null);
  useEffect(() => {
    if (data.data) setDraft(initialDraft(data.data));
  }, [data.data]);
  if (data.status === "error") return <ErrorState message={data.error} onRetry={data.reload} />;
  if (!data.data || !draft) return <Loading />;
  const org = data.data;
  const from = org.orgInheritDto?.orgNameProvidingDeviceDefaults ?? "the parent organization";
  const edit = (fn: (t: SettingsTree) => void) => {
    const t = cloneTree(draft.tree);
    fn(t);
    setDraft({ ...draft, tree: t });
  };
  const at: TreeAccess = {
    int: (k) => readInt(draft.tree, DEVICE_KEYS[k].path, DEVICE_KEYS[k].def as number),
    bool: (k) => readBool(draft.tree, DEVICE_KEYS[k].path, DEVICE_KEYS[k].def as boolean),
    str: (k) => readScalar(draft.tree, DEVICE_KEYS[k].path).value ?? String(DEVICE_KEYS[k].def),
    locked: (k) => readScalar(draft.tree, DEVICE_KEYS[k].path).locked,
    set: (k, v) => edit((t) => writeScalar(t, DEVICE_KEYS[k].path, String(v))),
    list: (k) => readList(draft.tree, DEVICE_LISTS[k]),
    setList: (k, v) => edit((t) => writeList(t, DEVICE_LISTS[k], v)),
    edit,
    tree: draft.tree,
    disabled: draft.inherit,
  };
  const dirty = JSON.stringify(draft) !== JSON.stringify(initialDraft(org));
  return (
    <article aria-labelledby="dd-title">
      <p class="breadcrumbs">
        <a href="#/orgs">Organizations</a> › <a href={href(`/orgs/${org.orgId}`)}>{org.orgName}</a>
      </p>
      <h1 id="dd-title">Device backup defaults: {org.orgName}</h1>
      <InheritBox
        label="Use device defaults from parent"
        inherit={draft.inherit}
        onChange={(v) => setDraft(v ? { ...initialDraft(org), inherit: true } : { ...draft, inherit: false })}
        from={org.parentOrgId === null ? "the system-wide defaults" : from}
        testId="inherit-device-defaults"
      />
      <Tabs tabs={TABS} current={tab} onSelect={(t) => setQuery({ tab: t }, true)} label="Device backup defaults" />
      <TabPanel id={tab}>
        <fieldset class="plain" disabled={draft.inherit} style={{ border: "none", padding: 0, margin: 0 }}>
          {tab === "general" && <GeneralTab at={at} />}
          {tab === "backup" && <BackupTab at={at} offered={org.settings.destinations ?? []} />}
          {tab === "reporting" && <ReportingTab at={at} />}
          {tab === "security" && <SecurityTab org={org} draft={draft} onChange={setDraft} />}
          {tab === "network" && <NetworkTab at={at} />}
        </fieldset>
      </TabPanel>
      <SaveBar
        dirty={dirty}
        testId="save-device-defaults"
        onRevert={() => setDraft(initialDraft(org))}
        onSave={async () => {
          const base = draft.inherit ? org.deviceDefaults : draft.tree;
          await putOrg({
            ...org,
            deviceDefaults: base ?? {},
            settings: { ...org.settings, isUsingDeviceDefaults: draft.inherit, securityKeyType: draft.keyType, securityKeyLocked: draft.keyLocked },
          });
          data.reload();
        }}
      />
    </article>
  );
}

/** A lock badge for a value an ancestor (or the platform) locked in the tree. */
function Locked({ on }: { on: boolean }) {
  return on ? <LockedBadge by="a parent organization" /> : null;
}

function GeneralTab({ at }: { at: TreeAccess }) {
  return (
    <>
      <h2>CPU</h2>
      <NumberField
        label="When the user is away, use up to"
        unit="% CPU"
        min={1}
        max={100}
        value={at.int("cpuAwayPercent")}
        onInput={(v) => at.set("cpuAwayPercent", v)}
      />
      <NumberField
        label="When the user is present, use up to"
        unit="% CPU"
        min={1}
        max={100}
        value={at.int("cpuPresentPercent")}
        onInput={(v) => at.set("cpuPresentPercent", v)}
      />
      <h2>Bandwidth</h2>
      <NumberField
        label="Limit sending over WAN to"
        unit="KB/s (0: unlimited)"
        min={0}
        value={at.int("wanBandwidthKbps")}
        onInput={(v) => at.set("wanBandwidthKbps", v)}
      />
      <NumberField
        label="Limit sending over LAN to"
        unit="KB/s (0: unlimited)"
        min={0}
        value={at.int("lanBandwidthKbps")}
        onInput={(v) => at.set("lanBandwidthKbps", v)}
      />
      <h2>Device backup alerts</h2>
      <NumberField
        label="Warning after"
        unit="days without a completed backup"
        min={1}
        value={Math.round(at.int("minutesUntilWarning") / 1440)}
        onInput={(v) => at.set("minutesUntilWarning", v * 1440)}
      />
      <Locked on={at.locked("minutesUntilWarning")} />
      <NumberField
        label="Critical after"
        unit="days without a completed backup"
        min={1}
        value={Math.round(at.int("minutesUntilSevere") / 1440)}
        onInput={(v) => at.set("minutesUntilSevere", v * 1440)}
      />
      <Locked on={at.locked("minutesUntilSevere")} />
      <p class="hint">File exclusions (file name patterns) are set per backup set on the Backup tab.</p>
    </>
  );
}

function ReportingTab({ at }: { at: TreeAccess }) {
  return (
    <>
      <Switch label="Send users a backup status email" checked={at.bool("backupStatusEmailEnabled")} onChange={(v) => at.set("backupStatusEmailEnabled", v)} />
      <NumberField
        label="Backup status email every"
        unit="days"
        min={1}
        value={Math.round(at.int("backupStatusEmailFreqInMinutes") / 1440)}
        onInput={(v) => at.set("backupStatusEmailFreqInMinutes", v * 1440)}
      />
      <Switch
        label="Email the user when the device reaches the warning threshold"
        checked={at.bool("warningEmailEnabled")}
        onChange={(v) => at.set("warningEmailEnabled", v)}
      />
      <Switch
        label="Email the user when the device reaches the critical threshold"
        checked={at.bool("severeEmailEnabled")}
        onChange={(v) => at.set("severeEmailEnabled", v)}
      />
      <p class="hint">Organization reports to administrators are set in Edit organization info → Reporting.</p>
    </>
  );
}

function SecurityTab({ org, draft, onChange }: { org: OrgWithSettings; draft: DefaultsDraft; onChange: (d: DefaultsDraft) => void }) {
  const current = KEY_TYPES.findIndex((k) => k.value === (org.settings.securityKeyType ?? "AccountPassword"));
  const lockedAbove = org.settingsInherited?.securityKeyLocked === true && org.parentOrgId !== null;
  return (
    <fieldset class="field" disabled={lockedAbove}>
      <legend>Encryption key policy</legend>
      {lockedAbove && <LockedBadge by="the parent organization" />}
      {KEY_TYPES.map((k, i) => (
        <label key={k.value} class="radio">
          <input
            type="radio"
            name="keyType"
            value={k.value}
            checked={draft.keyType === k.value}
            disabled={i < current}
            onChange={() => onChange({ ...draft, keyType: k.value })}
          />
          {k.label}
          {i < current && <span class="muted"> (a policy can be raised, never lowered)</span>}
        </label>
      ))}
      <Switch
        label="Lock the policy: users cannot change it on their devices"
        checked={draft.keyLocked}
        onChange={(v) => onChange({ ...draft, keyLocked: v })}
      />
      <p class="hint">After the policy is raised, devices can never go back to a weaker one.</p>
    </fieldset>
  );
}

function NetworkTab({ at }: { at: TreeAccess }) {
  const lines = (s: string) =>
    s
      .split("\n")
      .map((x) => x.trim())
      .filter(Boolean);
  return (
    <>
      <TextArea
        label="Excluded wireless networks"
        value={at.list("excludedWifi").join("\n")}
        onInput={(v) => at.setList("excludedWifi", lines(v))}
        hint="One network name (SSID) per line; nothing is sent over them."
      />
      <TextArea
        label="Excluded network interfaces"
        value={at.list("excludedInterfaces").join("\n")}
        onInput={(v) => at.setList("excludedInterfaces", lines(v))}
        hint="One interface name per line (e.g. tun0)."
      />
      <TextField
        label="Proxy auto-configuration (PAC) URL"
        value={at.str("proxyPacUrl")}
        onInput={(v) => at.set("proxyPacUrl", v)}
        hint="Empty: connect directly."
      />
    </>
  );
}
