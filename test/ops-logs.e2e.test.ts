/**
 * Secrets never reach the logs (issue 9, DECISIONS.md): the three daemons run as the real `cairn`
 * command in child processes at debug level, through init, enrollment, registration, a backup,
 * a restore and REST sign-ins (a good and a wrong password, a session, a JWT), and every line any
 * of them logged is searched for the passwords, the device token, the storage tokens, the enroll
 * key, the node secret, the JWT and session cookie, and key material (escrow KEK, signing keys,
 * TLS keys, the user key and archive keys). One-shot commands print their result on stdout (the
 * enroll key, by design: DECISIONS.md's one-time prints): only their logs (stderr) are searched.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpsClient } from "@cairn/authority/testing";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { type CairnProcess, eventually, runCairn, spawnCairn } from "./helpers/cairn-process.js";

const ADMIN_PASSWORD = "Admin-Secret-Passphrase-93";
const USER_PASSWORD = "User-Secret-Passphrase-47";
const WRONG_PASSWORD = "Wrong-Secret-Passphrase-18";

const daemons: CairnProcess[] = [];
let dir = "";
afterAll(async () => {
  for (const d of daemons) await d.stop(10_000);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `GET /status` of a running agent daemon over its unix socket (null when none answers). */
function daemonStatus(dataDir: string): Promise<unknown> {
  return new Promise((resolve) => {
    const req = httpRequest({ socketPath: join(dataDir, "agent.sock"), path: "/status" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve(JSON.parse(body)));
    });
    req.on("error", () => resolve(null));
    req.end();
  });
}

/** Base64 bodies of PEM blocks (each line of 40+ characters). */
const pemLines = (pem: string) => pem.split("\n").filter((l) => l.length >= 40 && !l.startsWith("-----"));

describe("logs of all three daemons at debug level", () => {
  it("hold no password, token, enroll key or key material", async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-logs-"));
    const A = join(dir, "authority");
    const N = join(dir, "node");
    const D = join(dir, "agent");
    const home = join(dir, "home");
    mkdirSync(home);
    writeFileSync(join(home, "diary.txt"), "dear diary\n".repeat(100));
    const logs: string[] = [];
    const oneShot = async (args: string[], env: Record<string, string> = {}) => {
      const r = await runCairn(args, env);
      logs.push(r.stderr);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };

    const init = JSON.parse(
      await oneShot([
        "--json",
        "--log-level",
        "debug",
        "authority",
        "init",
        "--data",
        A,
        "--admin-username",
        "admin@example.com",
        "--admin-password",
        ADMIN_PASSWORD,
      ]),
    ) as { registrationKey: string; certFingerprint: string };
    writeFileSync(join(dir, "authority.toml"), `data = ${JSON.stringify(A)}\n[server]\nhost = "127.0.0.1"\nport = 0\n`);
    const authority = spawnCairn(["--log-level", "debug", "authority", "serve", "--config", join(dir, "authority.toml")]);
    daemons.push(authority);
    const port = ((await authority.waitFor((_l, j) => j?.msg === "listening")) as { port: number }).port;
    const url = `https://127.0.0.1:${port}`;

    const enroll = JSON.parse(await oneShot(["--json", "--log-level", "debug", "authority", "enroll-key", "--data", A])) as { enrollKey: string };
    await oneShot([
      "--json",
      "--log-level",
      "debug",
      "storenode",
      "init",
      "--data",
      N,
      "--store-point",
      join(dir, "sp1"),
      "--authority",
      url,
      "--authority-fingerprint",
      init.certFingerprint,
      "--enroll-key",
      enroll.enrollKey,
    ]);
    const node = spawnCairn(["--log-level", "debug", "storenode", "serve", "--data", N, "--host", "127.0.0.1", "--port", "0"]);
    daemons.push(node);
    await node.waitFor((_l, j) => j?.msg === "listening");
    // one daemon per data folder: a second serve of the same folder exits 11 (LOCKED) at once
    const again = await runCairn(["storenode", "serve", "--data", N, "--host", "127.0.0.1", "--port", "0"]);
    expect([again.code, again.stderr.includes("another storage node is serving this data folder")]).toEqual([11, true]);
    const againAuthority = await runCairn(["authority", "serve", "--config", join(dir, "authority.toml")]);
    expect([againAuthority.code, againAuthority.stderr.includes("another authority is serving this data folder")]).toEqual([11, true]);

    await oneShot([
      "-v",
      "agent",
      "register",
      "--data",
      D,
      "--authority",
      url,
      "--authority-fingerprint",
      init.certFingerprint,
      "--registration-key",
      init.registrationKey,
      "--username",
      "ana@example.com",
      "--password",
      USER_PASSWORD,
      "--name",
      "laptop",
    ]);
    // the package-signing key is pinned at registration (first use)
    expect(readdirSync(D)).toContain("package-key.json");
    await oneShot(["-v", "agent", "select", "add", `${home}/`, "--data", D]);
    await oneShot(["-v", "agent", "backup", "--data", D]);
    const agent = spawnCairn(["--log-level", "debug", "agent", "serve", "--data", D]);
    daemons.push(agent);
    await agent.waitFor((_l, j) => j?.msg === "agent started");
    await agent.waitFor((_l, j) => j?.msg === "connected to the authority");
    // the daemon's own first backup (a full scan at start), then one more from the command line
    await eventually(async () => ((await daemonStatus(D)) as { lastResult: unknown } | null)?.lastResult, 30_000, "the daemon's first backup");
    writeFileSync(join(home, "diary.txt"), "dear diary, again\n");
    await oneShot(["-v", "agent", "backup", "--data", D]);
    const target = join(dir, "restored");
    await oneShot(["-v", "agent", "restore", "--data", D, "--to", target, `${home}/`]);
    expect(readFileSync(join(target, "home", "diary.txt"), "utf8")).toBe("dear diary, again\n");

    // REST: a wrong password, a JWT, a console session
    const client = new HttpsClient(url, readFileSync(join(A, "keys", "tls.crt"), "utf8"));
    let jwt = "";
    let cookie = "";
    try {
      expect((await client.request("GET", "/c42api/v3/auth/jwt?useBody=True", { basic: ["admin@example.com", WRONG_PASSWORD] })).status).toBe(401);
      const j = await client.request("GET", "/c42api/v3/auth/jwt?useBody=True", { basic: ["admin@example.com", ADMIN_PASSWORD] });
      jwt = (j.json as { data: { v3_user_token: string } }).data.v3_user_token;
      expect((await client.request("GET", "/api/User/my", { bearer: jwt })).status).toBe(200);
      const s = await client.request("POST", "/api/v1/session", { body: { username: "ana@example.com", password: USER_PASSWORD } });
      cookie = ((s.headers["set-cookie"] as string[])[0] ?? "").split(";")[0]?.split("=")[1] ?? "";
      expect(cookie.length).toBeGreaterThan(20);
    } finally {
      client.close();
    }
    for (const d of daemons.splice(0)) {
      const r = await d.stop(30_000);
      expect(r.code).toBe(0);
      logs.push(d.lines.join("\n"));
    }

    const creds = JSON.parse(readFileSync(join(D, "credentials.json"), "utf8")) as {
      deviceToken: string;
      userKey: string;
      archiveKeys: Record<string, string>;
    };
    const db = new Database(join(D, "agent.db"), { readonly: true });
    const storageTokens = (db.prepare("SELECT token FROM archives").all() as { token: string }[]).map((r) => r.token);
    db.close();
    const signing = JSON.parse(readFileSync(join(A, "keys", "signing-keys.json"), "utf8")) as { keys: { privateKey: string }[] };
    const secrets: Record<string, string> = {
      "admin password": ADMIN_PASSWORD,
      "user password": USER_PASSWORD,
      "wrong password": WRONG_PASSWORD,
      "device token": creds.deviceToken,
      "enroll key": enroll.enrollKey,
      "registration key": init.registrationKey,
      "node secret": readFileSync(join(N, "node-secret"), "utf8").trim(),
      "escrow KEK": readFileSync(join(A, "keys", "escrow.key"), "utf8").trim(),
      "user key": creds.userKey,
      JWT: jwt,
      "session cookie": cookie,
      "package-signing key": (JSON.parse(readFileSync(join(A, "keys", "package-signing.json"), "utf8")) as { privateKey: string }).privateKey,
    };
    storageTokens.forEach((t, i) => {
      secrets[`storage token ${i}`] = t;
      secrets[`storage token ${i} signature`] = t.split(".")[2] as string;
    });
    Object.values(creds.archiveKeys).forEach((k, i) => {
      secrets[`archive key ${i}`] = k;
    });
    signing.keys.forEach((k, i) => {
      secrets[`signing key ${i}`] = k.privateKey;
    });
    pemLines(readFileSync(join(A, "keys", "tls.key"), "utf8")).forEach((l, i) => {
      secrets[`authority TLS key line ${i}`] = l;
    });
    pemLines(readFileSync(join(N, "tls", "key.pem"), "utf8")).forEach((l, i) => {
      secrets[`node TLS key line ${i}`] = l;
    });
    expect(storageTokens.length).toBeGreaterThan(0);
    const all = logs.join("\n");
    expect(all).toContain('"level":20');
    for (const c of ["authority", "storenode", "agent"]) expect(all).toContain(`"component":"${c}"`);
    expect(all.split("\n").filter((l) => l.startsWith("{")).length).toBeGreaterThan(30);
    const found = Object.entries(secrets)
      .filter(([, v]) => v.length >= 16 && all.includes(v))
      .map(([k]) => k);
    expect(found).toEqual([]);
    // the Basic credentials of the sign-ins, encoded
    expect(all).not.toContain(Buffer.from(`admin@example.com:${ADMIN_PASSWORD}`).toString("base64"));
  });
});
