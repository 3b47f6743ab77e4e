/**
 * Benchmark: a zip (web) restore of 1 GiB through the authority (issue 6: the authority's RSS
 * stays under 200 MB while it streams). The authority runs in its own process
 * (`zip-restore-authority.mjs`); a storage node and an agent run here. The agent backs up
 * 16 files of 64 MiB of random bytes; then py42's sequence (API.md §8) downloads the zip of the
 * folder while the authority's RSS is sampled every 50 ms from /proc. The zip is counted as it
 * arrives (and checked with `unzip -t` with --verify).
 *
 *   npx tsc -b && npm run bench:zip -w authority [-- --mib 1024] [--verify] [--json]
 */
import { spawn, execFileSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { changeSelection, registerAgent, runBackup } from "@cairn/agent";
import { initStorenode, startStorenode } from "@cairn/storenode";
import { systemClock } from "@cairn/protocol";
import { pino } from "pino";

const args = process.argv.slice(2);
const MIB = Number(args[args.indexOf("--mib") + 1] || 1024);
const VERIFY = args.includes("--verify");
const JSON_OUT = args.includes("--json");
const FILE_MIB = 64;
const logger = pino({ level: "silent" });
const dir = mkdtempSync(join(tmpdir(), "cairn-zip-bench-"));
const here = dirname(fileURLToPath(import.meta.url));

function rssOf(pid) {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0);
  return { rss: kb("VmRSS") * 1024, hwm: kb("VmHWM") * 1024 };
}

const child = spawn(process.execPath, [join(here, "zip-restore-authority.mjs"), join(dir, "authority")], { stdio: ["ignore", "pipe", "inherit"] });
const info = await new Promise((resolve, reject) => {
  let buf = "";
  child.stdout.on("data", (d) => {
    buf += d;
    const nl = buf.indexOf("\n");
    if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
  });
  child.once("exit", (code) => reject(new Error(`the authority exited (${code})`)));
});
const agent = new Agent({ ca: info.certPem, keepAlive: true });

function call(method, path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const h = {
      accept: "application/json",
      ...headers,
      ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
    };
    const req = request(new URL(path, info.url), { method, agent, headers: h }, (res) => {
      const parts = [];
      res.on("data", (c) => parts.push(c));
      res.on("end", () => {
        const text = Buffer.concat(parts).toString("utf8");
        if ((res.statusCode ?? 0) >= 400) return reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
        const json = text === "" ? undefined : JSON.parse(text);
        resolve(json && typeof json === "object" && !Array.isArray(json) && json.data ? json.data : json);
      });
    });
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

let node;
try {
  const nodeDir = join(dir, "node");
  await initStorenode({
    dataDir: nodeDir,
    storePoints: [join(dir, "sp1")],
    name: "node1",
    authority: { url: info.url, fingerprint: info.fingerprint, enrollKey: info.enrollKey },
    clock: systemClock,
    logger,
  });
  node = await startStorenode({
    dataDir: nodeDir,
    host: "127.0.0.1",
    port: 0,
    clock: systemClock,
    logger,
    maintenanceSchedule: null,
    verifySchedule: null,
    reserveBytes: 0,
  });
  const agentDir = join(dir, "agent");
  const home = join(dir, "home");
  mkdirSync(home, { recursive: true });
  const buf = Buffer.allocUnsafe(FILE_MIB * 1024 * 1024);
  for (let i = 0; i < MIB / FILE_MIB; i++) writeFileSync(join(home, `part-${String(i).padStart(2, "0")}.bin`), randomFillSync(buf));
  // the node's placement reaches the authority before the agent asks for an archive
  await new Promise((r) => setTimeout(r, 500));
  const reg = await registerAgent({
    dataDir: agentDir,
    authorityUrl: info.url,
    authorityFingerprint: info.fingerprint,
    registrationKey: info.registrationKey,
    username: "bench@example.com",
    password: "bench password 1",
    deviceName: "bench",
    clock: systemClock,
    logger,
  });
  changeSelection({ dataDir: agentDir, op: "add", items: [`${home}/`], logger });
  const t0 = performance.now();
  const backup = await runBackup({ dataDir: agentDir, clock: systemClock, logger });
  const backupS = (performance.now() - t0) / 1000;
  if (backup.errors > 0) throw new Error("the backup had errors");

  const basic = `Basic ${Buffer.from(`${info.adminUsername}:${info.adminPassword}`).toString("base64")}`;
  const jwt = (await call("GET", "/c42api/v3/auth/jwt?useBody=True", { headers: { authorization: basic } })).v3_user_token;
  const bearer = { authorization: `Bearer ${jwt}` };
  // 1 GiB is over the default 250 MB web restore limit: the administrators' limit is lifted
  const top = await call("GET", "/api/Org/my", { headers: bearer });
  await call("PUT", `/api/v1/orgs/${top.orgId}/settings`, { headers: bearer, body: { groups: { quota: { values: { webRestoreAdminLimitMb: -1 } } } } });
  const computer = await call("GET", `/api/Computer/${reg.guid}?idType=guid&incBackupUsage=True`, { headers: bearer });
  const dest = computer.backupUsage[0].targetComputerGuid;
  const login = await call("POST", "/api/LoginToken", { headers: bearer, body: { userId: "my", sourceGuid: reg.guid, destinationGuid: dest } });
  const pair = await call("POST", "/api/AuthToken", { headers: { authorization: `login_token ${login.loginToken}` } });
  const token = { authorization: `token ${pair.join("-")}` };
  const dkt = await call("POST", "/api/DataKeyToken", { headers: bearer, body: { computerGuid: reg.guid } });
  const ses = await call("POST", "/api/WebRestoreSession", {
    headers: token,
    body: { computerGuid: reg.guid, dataKeyToken: dkt.dataKeyToken, privatePassword: null, encryptionKey: null },
  });
  const job = await call("POST", "/api/v9/restore/web", {
    headers: token,
    body: {
      sourceComputerGuid: reg.guid,
      webRestoreSessionId: ses.webRestoreSessionId,
      restoreGroups: [{ backupSetId: "1", files: [{ fileType: "DIRECTORY", path: home, selected: true }] }],
      numFiles: 1,
      numDirs: 1,
      numBytes: 1,
      showDeleted: true,
    },
  });
  const state = await call("GET", `/api/WebRestoreJob/${job.jobId}`, { headers: token });
  const before = rssOf(info.pid);
  let peak = before.rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(info.pid).rss);
  }, 50);
  const t1 = performance.now();
  const zipFile = join(dir, "restore.zip");
  const received = await new Promise((resolve, reject) => {
    const req = request(
      new URL(`/api/WebRestoreJobResult/${job.jobId}`, info.url),
      { agent, headers: { ...token, accept: "application/octet-stream" } },
      (res) => {
        let n = 0;
        const out = VERIFY ? createWriteStream(zipFile) : null;
        res.on("data", (c) => {
          n += c.length;
          out?.write(c);
        });
        res.on("end", () => (out ? out.end(() => resolve(n)) : resolve(n)));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
  const restoreS = (performance.now() - t1) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, rssOf(info.pid).rss);
  if (received !== state.expectedBytes) throw new Error(`received ${received} bytes, expected ${state.expectedBytes}`);
  if (VERIFY) execFileSync("unzip", ["-tq", zipFile], { stdio: "inherit" });
  const r = {
    restoredMiB: MIB,
    zipBytes: received,
    backupSeconds: Number(backupS.toFixed(1)),
    restoreSeconds: Number(restoreS.toFixed(1)),
    restoreMiBps: Number((received / 1048576 / restoreS).toFixed(0)),
    authorityRssBeforeMiB: Number((before.rss / 1048576).toFixed(0)),
    authorityPeakRssDuringRestoreMiB: Number((peak / 1048576).toFixed(0)),
    authorityVmHwmMiB: Number((rssOf(info.pid).hwm / 1048576).toFixed(0)),
    verified: VERIFY,
  };
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    process.stdout.write(`zip restore of ${MIB} MiB: ${r.restoreSeconds} s (${r.restoreMiBps} MiB/s), backup ${r.backupSeconds} s\n`);
    process.stdout.write(
      `authority RSS: ${r.authorityRssBeforeMiB} MiB before, peak ${r.authorityPeakRssDuringRestoreMiB} MiB while streaming (VmHWM ${r.authorityVmHwmMiB} MiB)\n`,
    );
  }
} finally {
  agent.destroy();
  await node?.close();
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
