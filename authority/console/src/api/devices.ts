/** Devices: API.md §6. */
import { del, get, post, put } from "./client.js";
import type { Computer, Page } from "./types.js";

/** Filters and paging of the device list. */
export interface DeviceQuery {
  active: boolean;
  orgUid?: string | undefined;
  userUid?: string | undefined;
  q?: string | undefined;
  pgNum: number;
  pgSize: number;
  srtKey?: string | undefined;
  srtDir?: "asc" | "desc" | undefined;
}

/** A page of devices with their backup usage (`GET /api/Computer`). */
export async function listDevices(q: DeviceQuery, signal?: AbortSignal): Promise<Page<Computer> & { warningCount?: number; criticalCount?: number }> {
  const r = await get<{ totalCount: number; computers: Computer[]; warningCount?: number; criticalCount?: number }>(
    "/api/Computer",
    {
      pgNum: q.pgNum,
      pgSize: q.pgSize,
      incCounts: true,
      incBackupUsage: true,
      active: q.active,
      orgUid: q.orgUid,
      userUid: q.userUid,
      q: q.q,
      srtKey: q.srtKey,
      srtDir: q.srtDir,
    },
    signal,
  );
  const out: Page<Computer> & { warningCount?: number; criticalCount?: number } = { totalCount: r.totalCount, items: r.computers };
  if (r.warningCount !== undefined) out.warningCount = r.warningCount;
  if (r.criticalCount !== undefined) out.criticalCount = r.criticalCount;
  return out;
}

/** One device with backup usage and settings. */
export function getDevice(computerId: number, signal?: AbortSignal): Promise<Computer> {
  return get<Computer>(`/api/Computer/${computerId}`, { incBackupUsage: true, incSettings: true }, signal);
}

/** Writes the whole device object back (name, reference, notes, settings). */
export function putDevice(c: Computer): Promise<Computer> {
  return put<Computer>(`/api/Computer/${c.computerId}`, c);
}

/** Blocks or unblocks a device. */
export function setDeviceBlocked(computerId: number, blocked: boolean): Promise<void> {
  return blocked ? put<void>(`/api/ComputerBlock/${computerId}`) : del<void>(`/api/ComputerBlock/${computerId}`);
}

/** Deactivates or reactivates a device. */
export function setDeviceActive(computerId: number, active: boolean): Promise<void> {
  return post<void>(`/api/v4/computer-deactivation/${active ? "remove" : "update"}`, { id: computerId });
}

/** Deauthorizes a device (signs the agent out). */
export function deauthorizeDevice(computerId: number): Promise<void> {
  return put<void>(`/api/ComputerDeauthorization/${computerId}`);
}

/** "ok", "warning" or "critical" from a device's alert states. */
export function alertLevel(c: Pick<Computer, "alertStates" | "alertState">): "ok" | "warning" | "critical" {
  const s = (c.alertStates ?? []).map((x) => x.toUpperCase());
  if (s.some((x) => x.includes("CRITICAL")) || c.alertState === 2) return "critical";
  if (s.some((x) => x.includes("WARN")) || c.alertState === 1) return "warning";
  return "ok";
}
