/**
 * One device's backup settings (seed 001: settings at three levels, organizations, users and
 * devices; API.md §6 "update settings"): the device's effective values on the device backup
 * defaults' tabs, editable except where its organization locks them. What differs from the
 * organization's defaults is kept for this device; "Use organization defaults" drops it.
 */
import { useEffect, useState } from "preact/hooks";
import { getDevice, putDevice } from "../api/devices.js";
import { getOrgSettings } from "../api/orgs.js";
import type { Computer, OrgWithSettings, SettingsTree } from "../api/types.js";
import { DEVICE_KEYS, DEVICE_LISTS } from "../device-keys.js";
import { href, param, setQuery } from "../router.js";
import { cloneTree, readBool, readInt, readList, writeList, writeScalar } from "../settings-tree.js";
import { useAsync } from "../ui/async.js";
import { Dialog } from "../ui/dialog.js";
import { ErrorState, Loading, notify } from "../ui/status.js";
import { TabPanel, Tabs } from "../ui/tabs.js";
import { BackupTab } from "./device-backup-tab.js";
import { GeneralTab, NetworkTab, ReportingTab, type TreeAccess } from "./device-defaults.js";
import { LockedRow, type Locks, SaveBar } from "./settings-common.js";

const TABS = [
  { id: "general", label: "General" },
  { id: "backup", label: "Backup" },
  { id: "reporting", label: "Reporting" },
  { id: "network", label: "Network" },
];

/** The org's locks as they bind its devices: an ancestor's, and the org's own. */
function orgLocks(org: OrgWithSettings): Locks {
  const meta = org.settingsMeta;
  return {
    known: meta !== undefined,
    lockable: false,
    lockedBy: (k) => meta?.lockedBy[k]?.orgName ?? (meta?.ownLocks.includes(k) ? org.orgName : null),
    own: () => false,
    set: () => undefined,
    changes: {},
    reset: () => undefined,
  };
}

/** The screen. */
export function DeviceSettingsPage({ computerId }: { computerId: number }) {
  const data = useAsync(
    async (s) => {
      const device = await getDevice(computerId, s);
      const org = await getOrgSettings(device.orgId, s);
      return { device, org };
    },
    [computerId],
  );
  if (data.status === "error") return <ErrorState message={data.error} onRetry={data.reload} />;
  if (!data.data) return <Loading />;
  return <DeviceSettingsForm key={JSON.stringify(data.data.device.settings ?? null)} device={data.data.device} org={data.data.org} reload={data.reload} />;
}

function DeviceSettingsForm({ device, org, reload }: { device: Computer; org: OrgWithSettings; reload: () => void }) {
  const tab = TABS.some((t) => t.id === param("tab")) ? param("tab") : "general";
  const initial = () => cloneTree(device.settings ?? {});
  const [tree, setTree] = useState<SettingsTree>(initial);
  const [resetting, setResetting] = useState(false);
  useEffect(() => setTree(initial()), [device]);
  const locks = orgLocks(org);
  const edit = (fn: (t: SettingsTree) => void) => {
    const t = cloneTree(tree);
    fn(t);
    setTree(t);
  };
  const at: TreeAccess = {
    int: (k) => readInt(tree, DEVICE_KEYS[k].path, DEVICE_KEYS[k].def as number),
    bool: (k) => readBool(tree, DEVICE_KEYS[k].path, DEVICE_KEYS[k].def as boolean),
    set: (k, v) => edit((t) => writeScalar(t, DEVICE_KEYS[k].path, String(v))),
    list: (k) => readList(tree, DEVICE_LISTS[k].path),
    setList: (k, v) => edit((t) => writeList(t, DEVICE_LISTS[k].path, v)),
    edit,
    tree,
    inherit: false,
    locks,
    row: (lock, label, control) => (
      <LockedRow locks={locks} k={lock} label={label} inheriting={false}>
        {control}
      </LockedRow>
    ),
  };
  const dirty = JSON.stringify(tree) !== JSON.stringify(initial());
  const save = (settings: SettingsTree) => {
    const body: Computer = { ...device, settings: { ...settings, configDateMs: String(Date.now()) } };
    delete body.backupUsage;
    return putDevice(body);
  };
  return (
    <article aria-labelledby="devset-title" data-testid="device-settings">
      <p class="breadcrumbs">
        <a href="#/devices">Devices</a> › <a href={href(`/devices/${device.computerId}`)}>{device.name}</a> › Backup settings
      </p>
      <div class="head">
        <div>
          <h1 id="devset-title">Backup settings: {device.name}</h1>
          <p class="hint">
            The values this device uses. A value that differs from the device backup defaults of{" "}
            <a href={href(`/orgs/${org.orgId}/device-defaults`)}>{org.orgName}</a> is kept for this device only; a value the organization locks cannot be
            changed here. The key policy is set for the whole organization.
          </p>
        </div>
        <button type="button" class="btn" onClick={() => setResetting(true)} data-testid="use-org-defaults">
          Use organization defaults
        </button>
      </div>
      <Tabs tabs={TABS} current={tab} onSelect={(t) => setQuery({ tab: t }, true)} label="Device backup settings" />
      <TabPanel id={tab}>
        {tab === "general" && <GeneralTab at={at} />}
        {tab === "backup" && <BackupTab at={at} offered={device.availableDestinations ?? []} />}
        {tab === "reporting" && <ReportingTab at={at} />}
        {tab === "network" && <NetworkTab at={at} />}
      </TabPanel>
      <SaveBar
        dirty={dirty}
        testId="save-device-settings"
        leaveRule="page"
        onRevert={() => setTree(initial())}
        onSave={async () => {
          await save(tree);
          reload();
        }}
      />
      {resetting && (
        <Dialog
          title="Use organization defaults"
          submitLabel="Use organization defaults"
          testId="use-org-defaults-dialog"
          onClose={() => setResetting(false)}
          onSubmit={async () => {
            await save(cloneTree(org.deviceDefaults ?? {}));
            notify(`${device.name} uses the organization's device backup defaults`);
            reload();
          }}
        >
          <p>
            Drop this device's own values: it follows the device backup defaults of {org.orgName} again, including their later changes. Values locked on the
            device for its user are released too.
          </p>
        </Dialog>
      )}
    </article>
  );
}
