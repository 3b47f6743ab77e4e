/**
 * The authority's own backup and restore (issue 9): `cairn authority backup` in another process
 * while the authority serves and writes, one 0600 file (plain and sealed with a passphrase);
 * `cairn authority restore` into a fresh directory (a non-empty one refused without --force, a
 * wrong passphrase refused, an altered file refused); the restored authority started on the same
 * address shows the orgs, users and devices, accepts a JWT the old one issued, and its agent and
 * storage node keep working (same keys: the device token, storage tokens and pinned certificate
 * all still verify). Also: an older binary refuses a newer database.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type RunningAuthority, startAuthority } from "@cairn/authority";
import { HttpsClient, Py42Client, TEST_ADMIN_PASSWORD } from "@cairn/authority/testing";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, runCairn } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

describe("authority backup and restore", () => {
  let c: Cluster;
  let restored: RunningAuthority | null = null;
  const files = () => ({ plain: join(c.dir, "backups", "authority.cab"), sealed: join(c.dir, "backups", "authority-sealed.cab") });

  beforeAll(async () => {
    c = await startCluster({ agents: 1 });
    writeFileSync(join(c.agents[0]!.home, "ledger.txt"), "entries before the disaster\n");
    c.agents[0]!.select();
    await c.agents[0]!.backup();
  });
  afterAll(async () => {
    await restored?.close();
    await c?.dispose();
  });

  it("backs up while serving and writing, restores into a fresh directory, and the cluster goes on", async () => {
    const py = c.authority.py42();
    const jwtBefore = (await c.authority.client.request("GET", "/c42api/v3/auth/jwt?useBody=True", { basic: [c.authority.adminUsername, TEST_ADMIN_PASSWORD] }))
      .json as { data: { v3_user_token: string } };
    const made: string[] = [];
    const before = (n: number) => `Before ${n}`;
    for (let i = 0; i < 3; i++) {
      await py.data("POST", "/api/Org", { orgName: before(i), parentOrgUid: c.authority.orgUid });
      made.push(before(i));
    }
    // the authority keeps writing while two backups run in other processes
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        await py.data("POST", "/api/Org", { orgName: `During ${n++}`, parentOrgUid: c.authority.orgUid });
      }
    })();
    const { plain, sealed } = files();
    const [a, b] = await Promise.all([
      runCairn(["--json", "authority", "backup", "--data", c.authority.dataDir, "--to", plain]),
      runCairn(["--json", "authority", "backup", "--data", c.authority.dataDir, "--to", sealed], { CAIRN_BACKUP_PASSPHRASE: "correct horse battery" }),
    ]);
    writing = false;
    await writer;
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(n).toBeGreaterThan(0);
    const manifest = JSON.parse(a.stdout) as { authorityGuid: string; files: { name: string }[]; encrypted: boolean };
    expect(manifest.authorityGuid).toBe(c.authority.ctx.authorityGuid);
    expect(manifest.files.map((f) => f.name)).toEqual(
      expect.arrayContaining(["authority.db", "keys/escrow.key", "keys/signing-keys.json", "keys/tls.key", "keys/tls.crt", "keys/package-signing.json"]),
    );
    expect(JSON.parse(b.stdout).encrypted).toBe(true);
    for (const f of [plain, sealed]) expect(statSync(f).mode & 0o777).toBe(0o600);
    // the escrow KEK is in the plain file, and nowhere in the sealed one
    const kek = readFileSync(join(c.authority.dataDir, "keys", "escrow.key"), "utf8").trim();
    expect(readFileSync(plain).includes(kek)).toBe(true);
    expect(readFileSync(sealed).includes(kek)).toBe(false);

    // the authority is lost
    const port = c.authority.port;
    await c.authority.close();

    const fresh = join(c.dir, "authority-restored");
    const refused = await runCairn(["authority", "restore", "--from", plain, "--data", c.authority.dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("not empty");
    const wrong = await runCairn(["authority", "restore", "--from", sealed, "--data", fresh], { CAIRN_BACKUP_PASSPHRASE: "wrong horse battery" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("wrong passphrase");
    const damaged = join(c.dir, "backups", "damaged.cab");
    const bytes = readFileSync(sealed);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 40) ^ 1, bytes.length - 40);
    writeFileSync(damaged, bytes);
    const bad = await runCairn(["authority", "restore", "--from", damaged, "--data", fresh], { CAIRN_BACKUP_PASSPHRASE: "correct horse battery" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("altered");
    expect(existsSync(fresh)).toBe(false);
    const ok = await runCairn(["--json", "authority", "restore", "--from", sealed, "--data", fresh], { CAIRN_BACKUP_PASSPHRASE: "correct horse battery" });
    expect(ok.code, ok.stderr).toBe(0);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    expect(statSync(join(fresh, "keys", "escrow.key")).mode & 0o777).toBe(0o600);

    // the restored authority on the same address: the node relinks, the agent goes on
    restored = await startAuthority({ dataDir: fresh, host: "127.0.0.1", port, logger: c.logger });
    expect(restored.fingerprint).toBe(c.authority.fingerprint);
    const client = new HttpsClient(restored.url, restored.certPem);
    try {
      const rpy = new Py42Client(client, c.authority.adminUsername, TEST_ADMIN_PASSWORD, null);
      const orgs = (await rpy.data("GET", "/api/Org?pgSize=1000")) as { orgs: { orgName: string }[] };
      const names = orgs.orgs.map((o) => o.orgName);
      for (const m of made) expect(names).toContain(m);
      expect(names.filter((x) => x.startsWith("During ")).length).toBeLessThanOrEqual(n);
      const users = (await rpy.data("GET", "/api/User?pgSize=100")) as { users: { username: string }[] };
      expect(users.users.map((u) => u.username)).toContain(c.agents[0]!.username);
      const devices = (await rpy.data("GET", "/api/Computer?pgSize=100")) as { computers: { guid: string }[] };
      expect(devices.computers.map((d) => d.guid)).toContain(c.agents[0]!.registration.guid);
      // a JWT the lost authority issued verifies (same signing key)
      expect((await client.request("GET", "/api/User/my", { bearer: jwtBefore.data.v3_user_token })).status).toBe(200);
    } finally {
      client.close();
    }
    const r = restored;
    await eventually(() => r.ctx.nodes.isConnected(c.nodes[0]!.serverId), 30_000, "the storage node's link to the restored authority");
    writeFileSync(join(c.agents[0]!.home, "ledger.txt"), "entries after the restore\n");
    const after = await c.agents[0]!.backup();
    expect(after.changedFiles).toBeGreaterThan(0);
    const target = join(c.dir, "restore-target");
    mkdirSync(target);
    const res = await c.agents[0]!.restore({ target, paths: [join(c.agents[0]!.home, "ledger.txt")] });
    expect(res.errors).toBe(0);
    expect(readFileSync(join(target, "ledger.txt"), "utf8")).toBe("entries after the restore\n");
  });

  it("refuses to start an older binary on a newer database (exit 78)", async () => {
    const dir = join(c.dir, "newer-db");
    const init = await runCairn(["--json", "authority", "init", "--data", dir, "--admin-password", "a long admin password"]);
    expect(init.code, init.stderr).toBe(0);
    const db = new Database(join(dir, "authority.db"));
    const v = db.pragma("user_version", { simple: true }) as number;
    db.pragma(`user_version = ${v + 1}`);
    db.close();
    const r = await runCairn(["authority", "serve", "--data", dir, "--host", "127.0.0.1", "--port", "0"]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`schema version ${v + 1}, newer than this build supports (${v})`);
  });
});
