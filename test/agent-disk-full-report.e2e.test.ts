/**
 * A registered daemon whose data folder's disk fills up during a backup: the backup stops with
 * LOCAL_DISK_FULL, and because the full database cannot keep it as the archive's lastError, the
 * daemon sends it with its status report, so the console's device page shows why backups stopped.
 */
import { cpSync, mkdirSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startAgent } from "@cairn/agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";
import { resizeDisk, smallDisk, unmount } from "./helpers/small-disk.js";

describe("a daemon whose data folder's disk is full", () => {
  let c: Cluster;
  let disk: string | null = null;

  beforeAll(async () => {
    c = await startCluster({ agents: 1 });
    disk = smallDisk(join(c.dir, "small-disk"), "64m");
  }, 60_000);
  afterAll(async () => {
    if (disk) unmount(disk);
    await c?.dispose();
  });

  // mounting a tmpfs needs root: without it there is no full disk to fill
  it.skipIf(process.getuid?.() !== 0)(
    "reports LOCAL_DISK_FULL to the authority as the archive's lastError",
    async () => {
      expect(disk, "a tmpfs could be mounted").not.toBeNull();
      const a = c.agents[0]!;
      mkdirSync(join(a.home, "many"), { recursive: true });
      for (let i = 0; i < 5000; i++) writeFileSync(join(a.home, "many", `a-rather-long-file-name-for-the-file-cache-${i}.txt`), `note ${i}\n`);
      a.select();
      // the registered device's data folder, moved onto the small disk
      const data = join(disk as string, "agent");
      cpSync(a.dataDir, data, { recursive: true });
      const agent = await startAgent({ dataDir: data, logger: c.logger, tickMs: 0, localApi: false });
      try {
        await eventually(async () => agent.authorityConnected || undefined, 15_000, "the daemon's control link");
        // a little room beyond what the folder holds now: not enough for 5,000 files' records
        const s = statfsSync(disk as string);
        const used = (s.blocks - s.bfree) * s.bsize;
        resizeDisk(disk as string, `${Math.ceil((used + 256 * 1024) / 4096) * 4}k`);
        await expect(agent.requestBackup({ full: true })).rejects.toMatchObject({ code: "LOCAL_DISK_FULL" });
        const py = c.authority.py42();
        const lastError = await eventually(
          async () => {
            const d = (await py.data("GET", `/api/Computer/${a.registration.guid}?idType=guid&incBackupUsage=True`)) as {
              backupUsage: Array<{ lastError: { code: string; message: string } | null }>;
            };
            return d.backupUsage[0]?.lastError ?? undefined;
          },
          15_000,
          "the authority to hear of the failure",
        );
        expect(lastError).toMatchObject({ code: "LOCAL_DISK_FULL", message: expect.stringMatching(/disk|space/i) });
      } finally {
        await agent.close();
      }
    },
    120_000,
  );
});
