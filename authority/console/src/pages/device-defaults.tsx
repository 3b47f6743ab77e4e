/**
 * Device backup defaults (seed 001): "Use device defaults from parent", and the General, Backup,
 * Reporting, Security and Network tabs over the org's `deviceDefaults` tree (API.md §5.4) and its
 * key policy (`settings.securityKeyType`, raise-only). Each setting shows the lock of an ancestor
 * or offers this org's own lock for its children. Saved with the whole-object PUT (§5.5).
 */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { getOrgSettings, putOrg } from "../api/orgs.js";
import type { OrgWithSettings, SettingsTree } from "../api/types.js";
import { DEVICE_KEYS, DEVICE_LISTS, KEY_TYPES } from "../device-keys.js";
import { href, param, setQuery } from "../router.js";
import { cloneTree, readBool, readInt, readList, readScalar, writeList, writeScalar } from "../settings-tree.js";
import { useAsync } from "../ui/async.js";
import { LockedBadge, NumberField, Select, Switch, TextArea, TextField } from "../ui/forms.js";
import { ErrorState, Loading } from "../ui/status.js";
import { TabPanel, Tabs } from "../ui/tabs.js";
import { BackupTab } from "./device-backup-tab.js";
import { InheritBox, LockedRow, type Locks, providerOf, ReadOnlyNote, readOnlyGroup, SaveBar, useLocks } from "./settings-common.js";

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

type K = keyof typeof DEVICE_KEYS;

/** A typed accessor over the draft tree for the tabs. */
export interface TreeAccess {
  int: (k: K) => number;
  bool: (k: K) => boolean;
  set: (k: K, v: string | number | boolean) => void;
  list: (k: keyof typeof DEVICE_LISTS) => string[];
  setList: (k: keyof typeof DEVICE_LISTS, v: string[]) => void;
  edit: (fn: (tree: SettingsTree) => void) => void;
  tree: SettingsTree;
  inherit: boolean;
  locks: Locks;
  /** A setting row with its lock (key: `device.<field>`). */
  row: (lock: string, label: string, control: (disabled: boolean) => ComponentChildren) => ComponentChildren;
}

function inheriting(org: OrgWithSettings): boolean {
  const flag = (org.settings as Record<string, unknown>).isUsingDeviceDefaults;
  if (typeof flag === "boolean") return flag;
  if (org.settingsMeta) return org.settingsMeta.inherits.device !== false;
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
  const data = useAsync((s) => getOrgSettings(orgId, s), [orgId]);
  if (data.status === "error") return <ErrorState message={data.error} onRetry={data.reload} />;
  if (!data.data) return <Loading />;
  return (
    <DefaultsForm
      key={JSON.stringify(data.data.deviceDefaults ?? null) + JSON.stringify(data.data.settingsMeta ?? null)}
      org={data.data}
      reload={data.reload}
    />
  );
}

function DefaultsForm({ org, reload }: { org: OrgWithSettings; reload: () => void }) {
  const tab = TABS.some((t) => t.id === param("tab")) ? param("tab") : "general";
  const [draft, setDraft] = useState<DefaultsDraft>(() => initialDraft(org));
  const locks = useLocks(org);
  useEffect(() => setDraft(initialDraft(org)), [org]);
  const from = providerOf(org, [], "device");
  const readOnly = readOnlyGroup(org, "device");
  const edit = (fn: (t: SettingsTree) => void) => {
    const t = cloneTree(draft.tree);
    fn(t);
    setDraft({ ...draft, tree: t });
  };
  const at: TreeAccess = {
    int: (k) => readInt(draft.tree, DEVICE_KEYS[k].path, DEVICE_KEYS[k].def as number),
    bool: (k) => readBool(draft.tree, DEVICE_KEYS[k].path, DEVICE_KEYS[k].def as boolean),
    set: (k, v) => edit((t) => writeScalar(t, DEVICE_KEYS[k].path, String(v))),
    list: (k) => readList(draft.tree, DEVICE_LISTS[k].path),
    setList: (k, v) => edit((t) => writeList(t, DEVICE_LISTS[k].path, v)),
    edit,
    tree: draft.tree,
    inherit: draft.inherit,
    locks,
    row: (lock, label, control) => (
      <LockedRow locks={locks} k={lock} label={label} inheriting={draft.inherit} readOnly={readOnly}>
        {control}
      </LockedRow>
    ),
  };
  const dirty = JSON.stringify(draft) !== JSON.stringify(initialDraft(org)) || Object.keys(locks.changes).length > 0;
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
        from={from}
        testId="inherit-device-defaults"
        disabled={readOnly}
      />
      {readOnly && <ReadOnlyNote group="device" />}
      <Tabs tabs={TABS} current={tab} onSelect={(t) => setQuery({ tab: t }, true)} label="Device backup defaults" />
      <TabPanel id={tab}>
        {tab === "general" && <GeneralTab at={at} />}
        {tab === "backup" && <BackupTab at={at} offered={org.settings.destinations ?? []} />}
        {tab === "reporting" && <ReportingTab at={at} />}
        {tab === "security" && <SecurityTab org={org} draft={draft} onChange={setDraft} />}
        {tab === "network" && <NetworkTab at={at} />}
      </TabPanel>
      <SaveBar
        dirty={dirty}
        testId="save-device-defaults"
        leaveRule="page"
        onRevert={() => {
          setDraft(initialDraft(org));
          locks.reset();
        }}
        onSave={async () => {
          const body: OrgWithSettings = {
            ...org,
            deviceDefaults: draft.inherit ? (org.deviceDefaults ?? {}) : draft.tree,
            settings: { ...org.settings, isUsingDeviceDefaults: draft.inherit, securityKeyType: draft.keyType, securityKeyLocked: draft.keyLocked },
          };
          if (Object.keys(locks.changes).length) body.settingsLocks = locks.changes;
          delete body.settingsMeta;
          await putOrg(body);
          reload();
        }}
      />
    </article>
  );
}

const DAY_MIN = 1440;

/** The non-empty trimmed lines of a text area. */
const lines = (s: string) =>
  s
    .split("\n")
    .map((x) => x.trim())
    .filter(Boolean);

export function GeneralTab({ at }: { at: TreeAccess }) {
  const pct = (k: "cpuAwayPercent" | "cpuPresentPercent", label: string) =>
    at.row(DEVICE_KEYS[k].lock, label, (d) => (
      <NumberField label={label} unit="% CPU" min={1} max={100} value={at.int(k)} disabled={d} onInput={(v) => at.set(k, v)} />
    ));
  const bw = (k: "wanBytesPerSec" | "lanBytesPerSec", label: string) =>
    at.row(DEVICE_KEYS[k].lock, label, (d) => (
      <NumberField label={label} unit="KB/s (0: unlimited)" min={0} value={Math.round(at.int(k) / 1024)} disabled={d} onInput={(v) => at.set(k, v * 1024)} />
    ));
  const days = (k: "minutesUntilWarning" | "minutesUntilSevere", label: string) =>
    at.row(DEVICE_KEYS[k].lock, label, (d) => (
      <NumberField
        label={label}
        unit="days without a completed backup"
        min={k === "minutesUntilSevere" ? Math.round(at.int("minutesUntilWarning") / DAY_MIN) + 1 : 1}
        value={Math.round(at.int(k) / DAY_MIN)}
        disabled={d}
        onInput={(v) => at.set(k, v * DAY_MIN)}
      />
    ));
  return (
    <>
      <h2>CPU</h2>
      {pct("cpuAwayPercent", "When the user is away, use up to")}
      {pct("cpuPresentPercent", "When the user is present, use up to")}
      <h2>Bandwidth</h2>
      {bw("wanBytesPerSec", "Limit sending over WAN to")}
      {bw("lanBytesPerSec", "Limit sending over LAN to")}
      <h2>Device backup alerts</h2>
      {days("minutesUntilWarning", "Warning after")}
      {days("minutesUntilSevere", "Critical after")}
      <h2>File exclusions</h2>
      {at.row(DEVICE_LISTS.excludePatterns.lock, "File exclusions", (d) => (
        <TextArea
          label="File exclusions (every backup set)"
          value={at.list("excludePatterns").join("\n")}
          disabled={d}
          onInput={(v) => at.setList("excludePatterns", lines(v))}
          hint="One regular expression per line, matched against each file's full path (for example .*\.tmp$ or /node_modules/). They apply to every backup set, in addition to each set's own exclusions on the Backup tab."
        />
      ))}
    </>
  );
}

export function ReportingTab({ at }: { at: TreeAccess }) {
  const sw = (k: "backupStatusEmailEnabled" | "warningEmailEnabled" | "severeEmailEnabled", label: string) =>
    at.row(DEVICE_KEYS[k].lock, label, (d) => <Switch label={label} checked={at.bool(k)} disabled={d} onChange={(v) => at.set(k, v)} />);
  return (
    <>
      {sw("backupStatusEmailEnabled", "Send users a backup status email")}
      {at.row(DEVICE_KEYS.backupStatusEmailFreqInMinutes.lock, "Backup status email frequency", (d) => (
        <NumberField
          label="Backup status email every"
          unit="days"
          min={1}
          value={Math.round(at.int("backupStatusEmailFreqInMinutes") / DAY_MIN)}
          disabled={d}
          onInput={(v) => at.set("backupStatusEmailFreqInMinutes", v * DAY_MIN)}
        />
      ))}
      {sw("warningEmailEnabled", "Email the user when the device reaches the warning threshold")}
      {sw("severeEmailEnabled", "Email the user when the device reaches the critical threshold")}
      <p class="hint">Reports to administrators are set in Edit organization info › Reporting.</p>
    </>
  );
}

function SecurityTab({ org, draft, onChange }: { org: OrgWithSettings; draft: DefaultsDraft; onChange: (d: DefaultsDraft) => void }) {
  const current = KEY_TYPES.findIndex((k) => k.value === (org.settings.securityKeyType ?? "AccountPassword"));
  const lockedBy = org.settingsMeta?.lockedBy["security.keyPolicy"]?.orgName ?? null;
  // The key policy belongs to the organization's security settings, which inherit on their own:
  // while they do, the policy is the parent's and is changed there (or after turning that off).
  const inheriting = org.settings.securityKeyInherit === true;
  const readOnly = readOnlyGroup(org, "security");
  return (
    <fieldset class="field" disabled={lockedBy !== null || inheriting || readOnly} data-testid="key-policy">
      <legend>Encryption key policy</legend>
      {lockedBy && <LockedBadge by={lockedBy} />}
      {inheriting && lockedBy === null && (
        <p class="hint" data-testid="key-policy-inherited">
          Inherited from {providerOf(org, [], "security")} with this organization's security settings. To choose a policy here, turn off "Inherit security
          settings from parent" on the organization's <a href={href(`/orgs/${org.orgId}/info`, { tab: "security" })}>Security</a> tab.
        </p>
      )}
      {readOnly && <ReadOnlyNote group="security" />}
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
      <p class="hint">After the policy is raised, devices never go back to a weaker one. Archives already made keep their key.</p>
    </fieldset>
  );
}

const COMPRESSION_OPTIONS: { value: "auto" | "off"; label: string }[] = [
  { value: "auto", label: "Automatic (compress what compresses)" },
  { value: "off", label: "Off (send files as they are)" },
];

export function NetworkTab({ at }: { at: TreeAccess }) {
  const compression = (k: "wanCompression" | "lanCompression", label: string, hint: string) =>
    at.row(DEVICE_KEYS[k].lock, label, (d) => (
      <Select
        label={label}
        value={readScalar(at.tree, DEVICE_KEYS[k].path).value === "off" ? "off" : "auto"}
        options={COMPRESSION_OPTIONS}
        disabled={d}
        onChange={(v) => at.set(k, v)}
        hint={hint}
      />
    ));
  return (
    <>
      <h2>Connection performance</h2>
      {compression(
        "wanCompression",
        "Compression over WAN",
        "Storage servers on the internet. Automatic saves bandwidth and storage; files are deduplicated and encrypted on the device either way.",
      )}
      {compression(
        "lanCompression",
        "Compression over LAN",
        "Storage servers on a private or loopback address. Off spares the device's CPU on a fast local network, at the cost of more stored bytes.",
      )}
      <h2>Networks</h2>
      {at.row(DEVICE_LISTS.excludedWifi.lock, "Excluded wireless networks", (d) => (
        <TextArea
          label="Excluded wireless networks"
          value={at.list("excludedWifi").join("\n")}
          disabled={d}
          onInput={(v) => at.setList("excludedWifi", lines(v))}
          hint="One network name (SSID) per line; nothing is sent over them."
        />
      ))}
      {at.row(DEVICE_LISTS.excludedInterfaces.lock, "Excluded network interfaces", (d) => (
        <TextArea
          label="Excluded network interfaces"
          value={at.list("excludedInterfaces").join("\n")}
          disabled={d}
          onInput={(v) => at.setList("excludedInterfaces", lines(v))}
          hint="One interface name per line (for example tun0)."
        />
      ))}
      {at.row(DEVICE_KEYS.proxyUrl.lock, "Proxy", (d) => (
        <TextField
          label="Proxy"
          value={readScalar(at.tree, DEVICE_KEYS.proxyUrl.path).value ?? ""}
          disabled={d}
          onInput={(v) => at.set("proxyUrl", v.trim())}
          hint="For example http://proxy.example.com:3128: the HTTP proxy (CONNECT) the devices reach the authority and storage servers through; empty for none. A proxy set on the device itself (HTTPS_PROXY, or network.https_proxy in its configuration file) wins. No user name or password."
        />
      ))}
      <p class="hint">Bandwidth limits for WAN and LAN are on the General tab.</p>
    </>
  );
}
