/**
 * Seeds a benchmark authority: 10,000 orgs (or BENCH_ORGS) under the top level, one user each,
 * ten devices per user with one archive each, a tenth of the orgs with their own alert
 * thresholds. Written straight into `authority.db` between `init` and `serve`.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { initAuthority } from "../dist/index.js";

/** Cheap password hashing for benchmarks. */
export const ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

/** Initializes `dir` and seeds it; returns what init returned. */
export async function seedDevices(dir, ORGS, DEVICES_PER_ORG = 10, now = Date.now()) {
  const init = await initAuthority({ dataDir: dir, adminUsername: "admin@example.com", adminPassword: "bench admin password", argon2: ARGON2 });
  {
    const db = new Database(join(dir, "authority.db"));
    db.pragma("journal_mode = WAL");
    const top = db.prepare("SELECT org_id, path FROM orgs WHERE parent_id IS NULL").get();
    const insOrg = db.prepare(
      "INSERT INTO orgs (org_id, org_uid, org_guid, parent_id, path, depth, name, registration_key, registration_key_hash, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const insUser = db.prepare("INSERT INTO users (user_id, user_uid, org_id, username, username_key, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    const insDest = db.prepare("INSERT INTO destinations (destination_guid, name, kind, created_at, modified_at) VALUES (?, ?, 'cluster', ?, ?)");
    const insServer = db.prepare(
      "INSERT INTO servers (server_guid, destination_id, name, urls_json, created_at, modified_at) VALUES (?, ?, 'node1', '[\"wss://node1:443\"]', ?, ?)",
    );
    const insSp = db.prepare(
      "INSERT INTO store_points (server_id, node_store_point_id, name, total_bytes, free_bytes, updated_at) VALUES (?, 1, 'sp1', ?, ?, ?)",
    );
    const insDevice = db.prepare(
      "INSERT INTO devices (device_id, device_guid, user_id, name, os_hostname, os_name, os_version, agent_version, created_at, modified_at, last_connected_at) VALUES (?, ?, ?, ?, ?, 'linux', '6.1', '0.1.0', ?, ?, ?)",
    );
    const insArchive = db.prepare(
      "INSERT INTO archives (archive_guid, device_id, destination_id, store_point_id, user_id, archive_bytes, selected_files, selected_bytes, last_backup_at, last_completed_backup_at, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const insGroup = db.prepare("INSERT INTO org_setting_groups (org_id, group_name, values_json, modified_at) VALUES (?, 'device', ?, ?)");
    const guid = (p, n) => `${p}${String(n).padStart(17, "0")}`;
    db.transaction(() => {
      const dest = insDest.run(guid(6, 1), "Primary", now, now).lastInsertRowid;
      const server = insServer.run(guid(8, 1), dest, now, now).lastInsertRowid;
      const sp = insSp.run(server, 2 ** 40, 2 ** 39, now).lastInsertRowid;
      let device = 0;
      for (let i = 1; i <= ORGS; i++) {
        const orgId = top.org_id + i;
        const key = createHash("sha256").update(`bench-${i}`).digest("hex").slice(0, 16).toUpperCase();
        insOrg.run(
          orgId,
          guid(1, orgId),
          guid(2, orgId),
          top.org_id,
          `${top.path}${orgId}/`,
          1,
          `Org ${i}`,
          key,
          createHash("sha256").update(key).digest("hex"),
          now,
          now,
        );
        if (i % 10 === 0) insGroup.run(orgId, JSON.stringify({ minutesUntilWarning: 60 + i, minutesUntilSevere: 120 + i }), now);
        const userId = 100 + i;
        insUser.run(userId, guid(3, userId), orgId, `user${i}@example.com`, `user${i}@example.com`, now, now);
        for (let k = 0; k < DEVICES_PER_ORG; k++) {
          device++;
          const last = now - ((device * 7919) % (10 * 86_400_000));
          insDevice.run(device, guid(9, device), userId, `device ${device}`, `host-${device}`, now - 30 * 86_400_000, now, last);
          insArchive.run(guid(7, device), device, dest, sp, userId, 1_000_000 + device, 100, 10_000_000, last, last, now, now);
        }
      }
    })();
    db.close();
  }

  return init;
}
