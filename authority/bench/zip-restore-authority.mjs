/**
 * The authority of the zip restore benchmark, in its own process so its memory is measured
 * alone: initializes a data directory, serves on 127.0.0.1:0, issues an enroll key for a
 * storage node, prints one JSON line with what the benchmark needs, and runs until killed.
 *
 *   node bench/zip-restore-authority.mjs <dataDir>
 */
import { createEnrollKey } from "@cairn/authority";
import { startTestAuthority } from "@cairn/authority/testing";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: zip-restore-authority.mjs <dataDir>");
const a = await startTestAuthority({ dataDir });
const key = await createEnrollKey({ dataDir, destination: "Primary" });
process.stdout.write(
  `${JSON.stringify({
    url: a.url,
    fingerprint: a.fingerprint,
    certPem: a.certPem,
    registrationKey: a.registrationKey,
    adminUsername: a.adminUsername,
    adminPassword: a.adminPassword,
    enrollKey: key.enrollKey,
    pid: process.pid,
  })}\n`,
);
if (process.env.BENCH_MEM === "1") {
  setInterval(() => {
    const m = process.memoryUsage();
    const mb = (x) => Math.round(x / 1048576);
    process.stderr.write(`mem rss=${mb(m.rss)} heap=${mb(m.heapUsed)}/${mb(m.heapTotal)} external=${mb(m.external)} arrayBuffers=${mb(m.arrayBuffers)}\n`);
  }, 250).unref();
}
process.on("SIGTERM", () => {
  void a.close().then(() => process.exit(0));
});
