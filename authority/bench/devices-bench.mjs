/**
 * Benchmark: listing 100,000 devices page by page (issue 5: under 50 ms a page), through the
 * real HTTPS listener as py42 calls it: `GET /api/Computer?pgNum=N&pgSize=500&incCounts=True`
 * (py42's defaults), then with `incBackupUsage=True`, with pgSize 1000, sorted by name, and as an
 * Org Admin of a subtree. 10,000 orgs (one user each, ten devices per user, one archive per
 * device, a tenth of the orgs with their own alert thresholds) are seeded into `authority.db`
 * between `init` and `serve`.
 *
 *   npm run bench:devices -w authority        (after `npx tsc -b`)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAuthority } from "../dist/index.js";
import { ARGON2, seedDevices } from "./seed-devices.mjs";

const ORGS = Number(process.env.BENCH_ORGS ?? 10_000);
const DEVICES_PER_ORG = 10;
const dir = mkdtempSync(join(tmpdir(), "cairn-devices-bench-"));
const now = Date.now();

const init = await seedDevices(dir, ORGS, DEVICES_PER_ORG, now);

const authority = await startAuthority({ dataDir: dir, host: "127.0.0.1", port: 0, argon2: ARGON2 });
const agentOpts = { ca: authority.certPem, keepAlive: true };
function get(path, token) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request(
      new URL(path, authority.url),
      { method: "GET", ...agentOpts, headers: { authorization: `Bearer ${token}`, accept: "application/json" } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}
function jwt(username, password) {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL("/c42api/v3/auth/jwt?useBody=True", authority.url),
      { method: "GET", ...agentOpts, headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")).data.v3_user_token));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { pages: s.length, medianMs: +q(0.5).toFixed(2), p95Ms: +q(0.95).toFixed(2), maxMs: +s[s.length - 1].toFixed(2) };
};

async function run(label, query, pgSize, token, maxPages = Number.POSITIVE_INFINITY) {
  const times = [];
  let seen = 0;
  for (let pg = 1; pg <= maxPages; pg++) {
    const r = await get(`/api/Computer?pgNum=${pg}&pgSize=${pgSize}${query}`, token);
    if (r.status !== 200) throw new Error(`${label}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    times.push(r.ms);
    const n = r.body.data.computers.length;
    seen += n;
    if (n < pgSize) break;
  }
  const out = { label, pgSize, devices: seen, ...stats(times) };
  console.log(JSON.stringify(out));
  return out;
}

const admin = await jwt("admin@example.com", "bench admin password");
await get("/api/Computer?pgNum=1&pgSize=10&incCounts=True", admin); // warm-up
const results = [];
results.push(await run("py42 defaults (incCounts)", "&incCounts=True", 500, admin));
results.push(await run("incCounts + incBackupUsage", "&incCounts=True&incBackupUsage=True", 500, admin));
results.push(await run("pgSize 1000, incCounts", "&incCounts=True", 1000, admin));
results.push(await run("active=True, incCounts", "&incCounts=True&active=True", 500, admin));
results.push(await run("sorted by name (first 20 pages)", "&srtKey=name&active=True", 500, admin, 20));
results.push(await run("console page (100, incCounts, incBackupUsage; first 50 pages)", "&incCounts=True&incBackupUsage=True&active=True", 100, admin, 50));
await authority.close();
rmSync(dir, { recursive: true, force: true });
const worst = Math.max(...results.filter((r) => !r.label.startsWith("sorted")).map((r) => r.p95Ms));
console.log(
  JSON.stringify({ summary: `p95 over the page-by-page runs: ${worst} ms (target < 50 ms)`, orgs: ORGS, devices: ORGS * DEVICES_PER_ORG, orgUid: init.orgUid }),
);
