/** Device details: facts, backup usage per destination, and block, deactivate, deauthorize, restore. */
import { useState } from "preact/hooks";
import { deauthorizeDevice, getDevice, setDeviceActive, setDeviceBlocked } from "../api/devices.js";
import type { BackupUsage } from "../api/types.js";
import { bytes, count, dateTime } from "../format.js";
import { href, navigate } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Dialog } from "../ui/dialog.js";
import { Facts } from "../ui/forms.js";
import { Menu, type MenuItem } from "../ui/menu.js";
import { ErrorState, Loading, notify } from "../ui/status.js";
import { type Column, DataTable } from "../ui/table.js";
import { DeviceStatus } from "./devices-list.js";

type Open = "block" | "active" | "deauth" | null;

const USAGE: Column<BackupUsage>[] = [
  { id: "dest", label: "Destination", render: (b) => b.targetComputerName },
  { id: "last", label: "Last completed backup", nowrap: true, render: (b) => dateTime(b.lastCompletedBackup) },
  { id: "pct", label: "% complete", numeric: true, render: (b) => `${(b.percentComplete ?? 0).toFixed(0)} %` },
  { id: "sel", label: "Selected", numeric: true, render: (b) => `${count(b.selectedFiles)} files, ${bytes(b.selectedBytes)}` },
  { id: "todo", label: "To do", numeric: true, render: (b) => `${count(b.todoFiles)} files, ${bytes(b.todoBytes)}` },
  { id: "arc", label: "Archive", numeric: true, nowrap: true, render: (b) => bytes(b.archiveBytes) },
  { id: "where", label: "Store point", render: (b) => [b.serverName, b.storePointName].filter(Boolean).join(" / ") || "—" },
];

/**
 * A destination whose last backup failed, as the device reported it. A rollback (the storage
 * node served an older version of the archive than the device had seen: RELIABILITY T20) is a
 * security warning: the device refuses to back up over it until someone looks.
 */
function BackupWarning({ b }: { b: BackupUsage }) {
  const e = b.lastError as NonNullable<BackupUsage["lastError"]>;
  const rollback = e.code === "ROLLBACK_DETECTED";
  return (
    <div class={rollback ? "warning warning-bad" : "warning"} role="alert" data-testid={`backup-warning-${b.archiveGuid}`}>
      <strong>
        {rollback
          ? `Rollback detected on ${b.targetComputerName}: the storage node served an older version of this archive than the device last saw. The device will not back up over it.`
          : `The last backup to ${b.targetComputerName} failed (${e.code}).`}
      </strong>{" "}
      <span>
        {e.message} {e.date ? `(${dateTime(e.date)})` : ""}
      </span>
    </div>
  );
}

/** The screen. */
export function DeviceDetails({ computerId }: { computerId: number }) {
  const dev = useAsync((s) => getDevice(computerId, s), [computerId]);
  const [open, setOpen] = useState<Open>(null);
  if (dev.status === "error") return <ErrorState message={dev.error} onRetry={dev.reload} />;
  if (!dev.data) return <Loading />;
  const c = dev.data;
  const deauthorized = /deauthorized/i.test(c.status);
  const items: MenuItem[] = [
    { id: "restore", label: "Restore files", run: () => navigate("/restore", { device: c.computerId }) },
    { id: "settings", label: "Backup settings", run: () => navigate(`/devices/${c.computerId}/settings`) },
    { id: c.blocked ? "unblock" : "block", label: c.blocked ? "Unblock" : "Block", run: () => setOpen("block") },
    ...(c.active && !deauthorized ? [{ id: "deauthorize", label: "Deauthorize", run: () => setOpen("deauth") }] : []),
    { id: c.active ? "deactivate" : "reactivate", label: c.active ? "Deactivate" : "Reactivate", run: () => setOpen("active"), danger: c.active },
  ];
  const act = (title: string, label: string, danger: boolean, text: string, fn: () => Promise<void>, msg: string) => (
    <Dialog
      title={title}
      submitLabel={label}
      danger={danger}
      onClose={() => setOpen(null)}
      onSubmit={async () => {
        await fn();
        notify(msg);
        void dev.reload();
      }}
    >
      <p>{text}</p>
    </Dialog>
  );
  return (
    <article aria-labelledby="dev-title" data-testid="device-details">
      <p class="breadcrumbs">
        <a href="#/devices">Devices</a> › {c.name}
      </p>
      <div class="head">
        <div>
          <h1 id="dev-title">
            {c.name} <DeviceStatus c={c} />
          </h1>
          <p>
            Owned by <a href={href(`/users/${c.userId}`)}>{c.username ?? `user ${c.userId}`}</a> in{" "}
            <a href={href(`/orgs/${c.orgId}`)}>{c.orgName ?? `organization ${c.orgId}`}</a>
          </p>
        </div>
        <Menu label="Actions" items={items} testId="device-actions" />
      </div>
      <section class="card" aria-labelledby="dev-ov">
        <h2 id="dev-ov">Device</h2>
        <Facts
          items={[
            ["Hostname", c.osHostname],
            ["GUID", <code key="g">{c.guid}</code>],
            ["Operating system", `${c.osName} ${c.osVersion}`],
            ["Agent version", c.productVersion],
            ["Last connected", dateTime(c.lastConnected)],
            ["Registered", dateTime(c.creationDate)],
            ["External reference", c.computerExtRef ?? "—"],
            ["Notes", c.notes ?? "—"],
          ]}
        />
      </section>
      <h2>Backup</h2>
      {(c.backupUsage ?? []).map((b) => (b.lastError ? <BackupWarning key={b.archiveGuid} b={b} /> : null))}
      <DataTable<BackupUsage>
        caption={`Backup of ${c.name} per destination`}
        columns={USAGE}
        rows={c.backupUsage ?? []}
        status="ready"
        rowKey={(b) => b.archiveGuid}
        testId={(b) => `usage-row-${b.archiveGuid}`}
        emptyText="This device has no archive yet."
      />
      {open === "block" &&
        act(
          `${c.blocked ? "Unblock" : "Block"} ${c.name}?`,
          c.blocked ? "Unblock" : "Block",
          !c.blocked,
          c.blocked ? "The owner can sign in and restore on this device again." : "The owner cannot sign in or restore on this device. Backups continue.",
          () => setDeviceBlocked(c.computerId, !c.blocked),
          `${c.name} is ${c.blocked ? "unblocked" : "blocked"}.`,
        )}
      {open === "deauth" &&
        act(
          `Deauthorize ${c.name}?`,
          "Deauthorize",
          true,
          "Signs the agent out and removes its key. Nothing is lost: signing in again resumes without uploading everything again.",
          () => deauthorizeDevice(c.computerId),
          `${c.name} is deauthorized.`,
        )}
      {open === "active" &&
        act(
          `${c.active ? "Deactivate" : "Reactivate"} ${c.name}?`,
          c.active ? "Deactivate" : "Reactivate",
          c.active,
          c.active
            ? "Backup stops and the device's archives go to cold storage until they are purged."
            : "The device becomes active again; its archives leave cold storage.",
          () => setDeviceActive(c.computerId, !c.active),
          `${c.name} is ${c.active ? "deactivated" : "active again"}.`,
        )}
    </article>
  );
}
