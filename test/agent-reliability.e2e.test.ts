import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_VERSION, DataSession, RateLimiter, runBackup, runRestore } from "@cairn/agent";
import { deriveArchiveKeys, encodeFrame, DATA_CHANNEL, chunkId, fileIdFor, sealBlock, sealFileMeta, sealManifest, sha256, systemClock } from "@cairn/protocol";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cuttingProxy, nodeMetric, startTestNode, type TestNode } from "./agent-helpers.js";

const logger = pino({ level: "silent" });

describe("agent reliability against the real storage node", () => {
  let tn: TestNode;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-rel-"));
  beforeAll(async () => {
    tn = await startTestNode();
  });
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("dedup: a copy grows the archive by under 1%, a one-byte insert uploads under 3 MB, a lost cache re-uploads nothing", async () => {
    const a = await tn.newArchive();
    const src = join(work, "dedup");
    mkdirSync(src);
    const big = randomBytes(20 * 1024 * 1024);
    writeFileSync(join(src, "a.bin"), big);
    const data = join(work, "dedup-agent");
    const sel = { include: [src], exclude: [], excludePatterns: [] };
    const r1 = await runBackup({ dataDir: data, archives: [a], selection: sel, logger });
    writeFileSync(join(src, "copy.bin"), big);
    const r2 = await runBackup({ dataDir: data, archives: [a], selection: sel, logger });
    expect(r2.changedFiles).toBe(1);
    expect(r2.uploadedBytes).toBeLessThan(r1.uploadedBytes * 0.01);
    writeFileSync(join(src, "a.bin"), Buffer.concat([Buffer.from([7]), big]));
    const r3 = await runBackup({ dataDir: data, archives: [a], selection: sel, logger });
    expect(r3.uploadedBytes).toBeLessThan(3 * 1000 * 1000);
    // no-change backup: nothing read, nothing sent
    const r4 = await runBackup({ dataDir: data, archives: [a], selection: sel, logger });
    expect(r4.changedFiles).toBe(0);
    expect(r4.uploadedBytes).toBe(0);
    // lose the cache: everything is read again, nothing uploaded
    rmSync(join(data, "agent.db"));
    rmSync(join(data, "agent.db-wal"), { force: true });
    rmSync(join(data, "agent.db-shm"), { force: true });
    const r5 = await runBackup({ dataDir: data, archives: [a], selection: sel, logger });
    expect(r5.changedFiles).toBeGreaterThanOrEqual(2);
    expect(r5.uploadedBytes).toBe(0);
  }, 60_000);

  it("T09: a cut connection resumes without re-sending acknowledged blocks, and the version restores", async () => {
    const a = await tn.newArchive();
    const src = join(work, "resume");
    mkdirSync(src);
    for (let i = 0; i < 12; i++) writeFileSync(join(src, `r${i}.bin`), randomBytes(1024 * 1024));
    const port = Number(new URL(a.endpoint.url).port);
    const proxy = await cuttingProxy(port, 4 * 1024 * 1024);
    const viaProxy = { ...a, endpoint: { ...a.endpoint, url: a.endpoint.url.replace(`:${port}`, `:${proxy.port}`) } };
    try {
      const r = await runBackup({
        dataDir: join(work, "resume-agent"),
        archives: [viaProxy],
        selection: { include: [src], exclude: [], excludePatterns: [] },
        logger,
      });
      expect(proxy.cuts()).toBe(1);
      expect(r.destinations[0]?.reconnects).toBeGreaterThanOrEqual(1);
      expect(r.errors).toBe(0);
      // bytes beyond one copy of the data: at most the unacknowledged window (48 MiB) — here far less
      expect(proxy.upstream() - r.uploadedBytes).toBeLessThan(12 * 1024 * 1024);
      const out = join(work, "resume-out");
      const rr = await runRestore({ dataDir: join(work, "resume-agent"), archive: a, target: out, paths: [src], logger });
      expect(rr.errors).toBe(0);
      for (let i = 0; i < 12; i++) expect(readFileSync(join(out, "resume", `r${i}.bin`)).equals(readFileSync(join(src, `r${i}.bin`)))).toBe(true);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it("T09: a connection that drops again while the session reopens (and re-stages) is reconnected, not waited on for ever", async () => {
    const a = await tn.newArchive();
    let reopens = 0;
    let session: DataSession | null = null;
    const closed = () => new Promise((r) => setTimeout(r, 200));
    session = new DataSession({
      endpoint: a.endpoint,
      mode: "backup",
      agentVersion: AGENT_VERSION,
      clock: systemClock,
      logger,
      onReopen: async () => {
        reopens++;
        const s = session as DataSession;
        if (reopens === 1) {
          // the re-staging of a reconnect (retry off: it is the retry) finds the connection gone
          s.dropConnection();
          await closed();
          await s.call("list-versions", {}, { retry: false });
        } else if (reopens === 2) {
          // the reopen itself succeeds, but the connection it made is gone by the time it returns
          s.dropConnection();
          await closed();
        }
      },
    });
    try {
      await session.open();
      session.dropConnection();
      // the session reconnects by itself (three reopens) and serves calls again
      await expect.poll(() => reopens, { timeout: 20_000 }).toBe(3);
      const v = await Promise.race([session.call("list-versions", {}), new Promise((_, reject) => setTimeout(() => reject(new Error("hung")), 10_000))]);
      expect(v).toMatchObject({ versions: [] });
      expect(session.error).toBeNull();
    } finally {
      await session.close(true);
    }
  }, 60_000);

  it("T11: a session closed while it reconnects leaves no connection behind (the restore that had everything exits)", async () => {
    const a = await tn.newArchive();
    const open = () => nodeMetric(tn.node, "storenode_active_connections");
    const before = await open();
    const s = new DataSession({ endpoint: a.endpoint, mode: "restore", agentVersion: AGENT_VERSION, clock: systemClock, logger });
    await s.open();
    await expect.poll(open).toBe(before + 1);
    s.dropConnection();
    // close as soon as the reconnect has begun, while it is still connecting
    while (s.reconnects === 0) await new Promise((r) => setImmediate(r));
    await s.close();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await open()).toBe(before);
    // and a call made after the close is refused, not retried for ever
    await expect(s.call("list-versions", {})).rejects.toMatchObject({ code: "CANCELLED" });
  }, 30_000);

  it("T02: files a killed run staged are not committed by the next run, which takes its session's lease over", async () => {
    const a = await tn.newArchive();
    const src = join(work, "dead-run");
    mkdirSync(src);
    writeFileSync(join(src, "keep.txt"), "kept\n");
    const data = join(work, "dead-run-agent");
    const sel = { include: [src], exclude: [], excludePatterns: [] };
    expect((await runBackup({ dataDir: data, archives: [a], selection: sel, logger })).errors).toBe(0);
    // A run that died after staging: it saw ghost.txt (deleted since), staged it, and never
    // committed; its session, still holding the archive's lease, is the one the agent stored.
    const keys = deriveArchiveKeys(a.archiveKey, a.endpoint.archiveGuid);
    const dead = new DataSession({ endpoint: a.endpoint, mode: "backup", agentVersion: AGENT_VERSION, clock: systemClock, logger });
    await dead.open();
    const ghost = join(src, "ghost.txt");
    const fileId = fileIdFor(keys, ghost);
    const meta = sealFileMeta(keys, fileId, { path: ghost, type: "file", mode: 0o644, mtimeMs: Date.now(), size: 0, blockSizes: [] });
    await dead.call("stage-files", { sessionId: dead.sessionId as string, files: [{ fileId, deleted: false, size: 0, blocks: Buffer.alloc(0), meta }] });
    // the process dies: its socket goes, and nothing of it reconnects
    dead.abandon();
    const db = new Database(join(data, "agent.db"));
    db.prepare("UPDATE archives SET session_id = ? WHERE archive_guid = ?").run(dead.sessionId, a.endpoint.archiveGuid);
    db.close();

    writeFileSync(join(src, "new.txt"), "added after the dead run\n");
    const r = await runBackup({ dataDir: data, archives: [a], selection: sel, logger });
    expect(r.errors).toBe(0);
    const out = join(work, "dead-run-out");
    await runRestore({ dataDir: data, archive: a, target: out, paths: [src], logger });
    expect(readFileSync(join(out, "dead-run", "new.txt"), "utf8")).toBe("added after the dead run\n");
    expect(readFileSync(join(out, "dead-run", "keep.txt"), "utf8")).toBe("kept\n");
    expect(existsSync(join(out, "dead-run", "ghost.txt"))).toBe(false);
  }, 60_000);

  it("T02: a run that dies after its commit landed is recorded by the next run, so a file deleted since leaves the next version", async () => {
    const a = await tn.newArchive();
    const src = join(work, "late-commit");
    mkdirSync(src);
    writeFileSync(join(src, "keep.txt"), "kept\n");
    const data = join(work, "late-commit-agent");
    const sel = { include: [src], exclude: [], excludePatterns: [] };
    expect((await runBackup({ dataDir: data, archives: [a], selection: sel, logger })).errors).toBe(0);
    writeFileSync(join(src, "brief.txt"), "here for one version\n");
    // the process dies the moment the node has committed, before the agent writes anything down
    await expect(
      runBackup({
        dataDir: data,
        archives: [a],
        selection: sel,
        logger,
        onSession: (s) => {
          const call = s.call.bind(s);
          s.call = (async (method: string, params: never, opts?: never) => {
            const r = await call(method as never, params, opts);
            if (method === "commit") throw new Error("killed after the commit landed");
            return r;
          }) as typeof s.call;
        },
      }),
    ).rejects.toThrow("killed after the commit landed");
    rmSync(join(src, "brief.txt"));
    expect((await runBackup({ dataDir: data, archives: [a], selection: sel, logger })).errors).toBe(0);
    const out = join(work, "late-commit-out");
    const r = await runRestore({ dataDir: data, archive: a, target: out, paths: [src], logger });
    expect(r.errors).toBe(0);
    expect(readFileSync(join(out, "late-commit", "keep.txt"), "utf8")).toBe("kept\n");
    expect(existsSync(join(out, "late-commit", "brief.txt"))).toBe(false);
  }, 60_000);

  it("T09: a backup whose very first connection is cut in the handshake connects again and commits", async () => {
    const a = await tn.newArchive();
    const src = join(work, "first-cut");
    mkdirSync(src);
    writeFileSync(join(src, "f.txt"), "first connection cut\n");
    const proxy = await cuttingProxy(Number(new URL(a.endpoint.url).port), 100);
    try {
      const r = await runBackup({
        dataDir: join(work, "first-cut-agent"),
        archives: [proxy.via(a)],
        selection: { include: [src], exclude: [], excludePatterns: [] },
        logger,
      });
      expect(proxy.cuts()).toBe(1);
      expect(r.errors).toBe(0);
      expect(r.files).toBe(1);
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it("progress at a bandwidth limit: the bytes sent keep counting in the upload phase after every file is read, then the commit", async () => {
    const a = await tn.newArchive();
    const src = join(work, "progress");
    mkdirSync(src);
    writeFileSync(join(src, "big.bin"), randomBytes(4 * 1024 * 1024));
    const events: Array<{ phase: string; uploadedBytes: number }> = [];
    const r = await runBackup({
      dataDir: join(work, "progress-agent"),
      archives: [a],
      selection: { include: [src], exclude: [], excludePatterns: [] },
      logger,
      // 1 MB/s (one second of burst): the 4 MB go out for about three seconds after the file is read
      limiter: new RateLimiter(1_000_000),
      progress: (p) => events.push({ phase: p.phase, uploadedBytes: p.uploadedBytes }),
    });
    expect(r.errors).toBe(0);
    const firstCommit = events.findIndex((e) => e.phase === "commit");
    expect(firstCommit).toBeGreaterThan(0);
    // nothing reported as "commit" before the last byte was acknowledged
    expect(events.slice(firstCommit).every((e) => e.phase === "commit")).toBe(true);
    expect(events[firstCommit]?.uploadedBytes).toBeGreaterThan(4 * 1024 * 1024);
    const uploads = events.slice(0, firstCommit).filter((e) => e.phase === "upload");
    expect(new Set(uploads.map((e) => e.uploadedBytes)).size).toBeGreaterThan(2);
  }, 60_000);

  it("T20: a head older than (or forked from) the last committed version is refused", async () => {
    const a = await tn.newArchive();
    const src = join(work, "rollback");
    mkdirSync(src);
    writeFileSync(join(src, "f.txt"), "v1");
    const data = join(work, "rollback-agent");
    const sel = { include: [src], exclude: [], excludePatterns: [] };
    await runBackup({ dataDir: data, archives: [a], selection: sel, logger });
    const db = new Database(join(data, "agent.db"));
    db.prepare("UPDATE archives SET last_seq = last_seq + 1").run();
    await expect(runBackup({ dataDir: data, archives: [a], selection: sel, logger })).rejects.toMatchObject({ code: "ROLLBACK_DETECTED" });
    db.prepare("UPDATE archives SET last_seq = last_seq - 1, last_manifest_hash = ?").run(Buffer.alloc(32, 1));
    await expect(runBackup({ dataDir: data, archives: [a], selection: sel, logger })).rejects.toMatchObject({ code: "ROLLBACK_DETECTED" });
    db.close();
  }, 60_000);

  it("T36: malicious archive entries cannot escape the restore target", async () => {
    const a = await tn.newArchive();
    const keys = deriveArchiveKeys(a.archiveKey, a.endpoint.archiveGuid);
    const outside = join(work, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "passwd"), "sentinel");
    const before = statSync(join(outside, "passwd")).mtimeMs;
    const s = new DataSession({ endpoint: a.endpoint, mode: "backup", agentVersion: AGENT_VERSION, clock: systemClock, logger });
    const opened = await s.open();
    const plain = Buffer.from("pwned\n");
    const id = chunkId(keys, plain);
    const sealed = sealBlock(keys, id, plain);
    s.put(id.toString("latin1"), encodeFrame(DATA_CHANNEL.id, { type: "put", id, sha: sha256(sealed), data: sealed }));
    await s.flush();
    const entry = (path: string, type: "file" | "symlink" | "dir", target?: string) => {
      const fileId = fileIdFor(keys, path);
      const isFile = type === "file";
      const meta = sealFileMeta(keys, fileId, {
        path,
        type,
        mode: 0o644,
        mtimeMs: 0,
        size: isFile ? plain.length : 0,
        blockSizes: isFile ? [plain.length] : [],
        ...(target ? { target } : {}),
      });
      return { fileId, deleted: false, size: isFile ? plain.length : 0, blocks: isFile ? id : Buffer.alloc(0), meta };
    };
    const files = [
      entry("/evil", "symlink", outside),
      entry("/evil/passwd", "file"),
      entry("../../escape.txt", "file"),
      entry("/a/../../escape2.txt", "file"),
      entry("/nul\0name", "file"),
      entry("/ok/fine.txt", "file"),
    ];
    await s.call("stage-files", { sessionId: s.sessionId ?? "", files });
    const { blob, hash } = sealManifest(keys, {
      v: 1,
      archiveGuid: a.endpoint.archiveGuid,
      seq: 1,
      prevManifestHash: null,
      createdClient: 0,
      files: 6,
      bytes: 6,
      changedFiles: 6,
    });
    await s.call("commit", {
      sessionId: s.sessionId ?? "",
      seq: (opened.head?.seq ?? 0) + 1,
      prevManifestHash: null,
      manifest: blob,
      manifestHash: hash,
      clientTime: 0,
      stats: { selectedFiles: 6, selectedBytes: 6, todoFiles: 0, todoBytes: 0 },
      complete: true,
    });
    await s.close();
    const target = join(work, "t36-target");
    const r = await runRestore({ dataDir: join(work, "t36-agent"), archive: a, target, logger });
    expect(readFileSync(join(outside, "passwd"), "utf8")).toBe("sentinel");
    expect(statSync(join(outside, "passwd")).mtimeMs).toBe(before);
    expect(readFileSync(join(target, "ok/fine.txt"), "utf8")).toBe("pwned\n");
    expect(existsSync(join(work, "escape.txt"))).toBe(false);
    // the file went inside the target; the symlink then found a directory in its way
    expect(readFileSync(join(target, "evil/passwd"), "utf8")).toBe("pwned\n");
    expect(r.errorList.map((e) => e.code).sort()).toEqual(["CONFLICT", "UNSAFE_PATH", "UNSAFE_PATH", "UNSAFE_PATH"]);
    // a symlink planted in the target where a directory will go is never followed
    const target2 = join(work, "t36-target2");
    mkdirSync(target2);
    symlinkSync(outside, join(target2, "evil"));
    const r2 = await runRestore({ dataDir: join(work, "t36-agent"), archive: a, target: target2, logger });
    expect(readFileSync(join(outside, "passwd"), "utf8")).toBe("sentinel");
    expect(statSync(join(outside, "passwd")).mtimeMs).toBe(before);
    expect(r2.errorList.filter((e) => e.code === "UNSAFE_PATH").length).toBe(4);
    // a symlink planted where a file will go is replaced by the file, never written through
    const target3 = join(work, "t36-target3");
    mkdirSync(join(target3, "ok"), { recursive: true });
    symlinkSync(join(outside, "passwd"), join(target3, "ok", "fine.txt"));
    await runRestore({ dataDir: join(work, "t36-agent"), archive: a, target: target3, logger });
    expect(readFileSync(join(outside, "passwd"), "utf8")).toBe("sentinel");
    expect(statSync(join(outside, "passwd")).mtimeMs).toBe(before);
    expect(lstatSync(join(target3, "ok", "fine.txt")).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(target3, "ok", "fine.txt"), "utf8")).toBe("pwned\n");
  }, 60_000);
});

describe("T12: the archive's lease held by a session the agent does not know", () => {
  let tn: TestNode;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-lease-"));
  beforeAll(async () => {
    tn = await startTestNode({ leaseTtlMs: 3000 });
  });
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("T12: a backup waits for a lapsed writer's lease to run out instead of failing; with no wait it is refused with ARCHIVE_IN_USE", async () => {
    const a = await tn.newArchive();
    const src = join(work, "src");
    mkdirSync(src);
    writeFileSync(join(src, "f.txt"), "one\n");
    const data = join(work, "agent");
    const sel = { include: [src], exclude: [], excludePatterns: [] };
    // a run killed as soon as the node granted it a session: the lease is held, its id never stored
    const holdLease = async () => {
      const dead = new DataSession({ endpoint: a.endpoint, mode: "backup", agentVersion: AGENT_VERSION, clock: systemClock, logger });
      await dead.open();
      dead.dropConnection();
    };
    await holdLease();
    await expect(runBackup({ dataDir: data, archives: [a], selection: sel, logger, leaseWaitMs: 0 })).rejects.toMatchObject({ code: "ARCHIVE_IN_USE" });
    await new Promise((r) => setTimeout(r, 3500)); // the first one's lease runs out
    await holdLease();
    const r = await runBackup({ dataDir: data, archives: [a], selection: sel, logger });
    expect(r.errors).toBe(0);
    expect(r.files).toBe(1);
  }, 60_000);
});
