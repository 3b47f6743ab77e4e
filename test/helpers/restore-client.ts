/**
 * py42's restore sequences against a real authority (API.md §8 `stream_from_backup` and §10
 * `stream_to_device`), step by step as py42 sends them: the platform calls with the Bearer JWT
 * (through {@link Py42Client}: a failing call is sent twice), the storage calls with
 * `Authorization: token t1-t2` on the LoginToken's `serverUrl`, the tree walk matching each
 * level case-insensitively, size polling, the job, polling until `done`, and the zip read as raw
 * bytes. Also small zip checks: `unzip -t` and an independent parser (yauzl).
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { posix } from "node:path";
import type { HttpAnswer, Py42Client, TestAuthority } from "@cairn/authority/testing";
import { py42Unwrap } from "@cairn/authority/testing";
import yauzl from "yauzl";

/** What a restore step answered, kept for assertions. */
export interface StepLog {
  step: string;
  status: number;
}

/** A binary answer. */
export interface BinaryAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The response ended before its Content-Length (or aborted). */
  truncated: boolean;
}

/** Options of a restore. */
export interface RestoreRequest {
  privatePassword?: string | null;
  encryptionKey?: string | null;
  showDeleted?: boolean;
  restoreFullPath?: boolean;
  restoreToServer?: boolean;
  timestamp?: number | null;
  /** Skip the DataKeyToken (py42 does when the caller gives a custom key). */
  noDataKeyToken?: boolean;
}

/** A tree node of §8 step 7. */
export interface TreeNode {
  id: string;
  path: string;
  type: string;
  deleted: boolean;
}

/** An error a step ended with (py42 raises). */
export class RestoreStepError extends Error {
  constructor(
    readonly step: string,
    readonly answer: HttpAnswer,
  ) {
    super(`${step}: ${answer.status} ${answer.text.slice(0, 300)}`);
  }

  /** The platform error name in the body. */
  get errorName(): string | undefined {
    return Array.isArray(this.answer.json) ? (this.answer.json[0] as { name?: string } | undefined)?.name : undefined;
  }
}

/** Drives the restore calls like py42 does. */
export class Py42Restore {
  readonly log: StepLog[] = [];
  private storageToken: string | null = null;
  private readonly agent: Agent;

  constructor(
    readonly a: TestAuthority,
    readonly py: Py42Client,
  ) {
    this.agent = new Agent({ ca: a.certPem, keepAlive: true });
  }

  private async platform(step: string, method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await this.py.call(method, path, body);
    this.log.push({ step, status: r.status });
    if (r.status < 200 || r.status >= 400) throw new RestoreStepError(step, r);
    return r.text === "" ? undefined : py42Unwrap(r.json);
  }

  private async storage(step: string, method: string, path: string, body?: unknown, auth?: string): Promise<unknown> {
    let r: HttpAnswer | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      r = await this.a.client.request(method, path, {
        headers: { authorization: auth ?? `token ${this.storageToken}` },
        ...(body !== undefined ? { body } : {}),
      });
      this.log.push({ step, status: r.status });
      if (r.status >= 200 && r.status < 400) return r.text === "" ? undefined : py42Unwrap(r.json);
    }
    throw new RestoreStepError(step, r as HttpAnswer);
  }

  /** Steps 1–5: destination, storage hop, data key token, session. Returns the session id. */
  async openSession(
    deviceGuid: string,
    o: RestoreRequest = {},
    destinationGuid?: string,
  ): Promise<{ sessionId: string; destinationGuid: string; serverUrl: string; zipRestoreAllowed: boolean; serverRestoreAllowed: boolean }> {
    const dest =
      destinationGuid ??
      (
        (await this.platform("1 computer", "GET", `/api/Computer/${deviceGuid}?idType=guid&incBackupUsage=True`)) as {
          backupUsage: { targetComputerGuid: string }[];
        }
      ).backupUsage[0]?.targetComputerGuid;
    if (dest === undefined) throw new Error("the device has no backupUsage");
    const login = (await this.platform("2 login token", "POST", "/api/LoginToken", { userId: "my", sourceGuid: deviceGuid, destinationGuid: dest })) as {
      serverUrl: string;
      loginToken: string;
    };
    const pair = (await this.storage("3 auth token", "POST", "/api/AuthToken", undefined, `login_token ${login.loginToken}`)) as string[];
    // py42 keeps the first pair of a server URL for the life of the SDK object (API.md §9)
    this.storageToken ??= pair.join("-");
    const dataKeyToken = o.noDataKeyToken
      ? null
      : ((await this.platform("4 data key token", "POST", "/api/DataKeyToken", { computerGuid: deviceGuid })) as { dataKeyToken: string }).dataKeyToken;
    const s = (await this.storage("5 session", "POST", "/api/WebRestoreSession", {
      computerGuid: deviceGuid,
      dataKeyToken,
      privatePassword: o.privatePassword ?? null,
      encryptionKey: o.encryptionKey ?? null,
    })) as { webRestoreSessionId: string; zipRestoreAllowed: boolean; serverRestoreAllowed: boolean };
    return {
      sessionId: s.webRestoreSessionId,
      destinationGuid: dest,
      serverUrl: login.serverUrl,
      zipRestoreAllowed: s.zipRestoreAllowed,
      serverRestoreAllowed: s.serverRestoreAllowed,
    };
  }

  /** Step 6. */
  async backupSetId(deviceGuid: string, destinationGuid: string): Promise<string> {
    const r = (await this.platform("6 backup sets", "GET", `/c42api/v3/BackupSets/${deviceGuid}/${destinationGuid}`)) as {
      backupSets: { backupSetId: string }[];
    };
    return r.backupSets.find((s) => s.backupSetId === "1")?.backupSetId ?? (r.backupSets[0]?.backupSetId as string);
  }

  /** Step 7: roots (no fileId) or children. */
  async nodes(sessionId: string, deviceGuid: string, backupSetId: string, fileId?: string, showDeleted = true): Promise<TreeNode[]> {
    const q = new URLSearchParams({ webRestoreSessionId: sessionId, guid: deviceGuid, backupSetId, showDeleted: showDeleted ? "True" : "False" });
    if (fileId) q.set("fileId", fileId);
    const r = await this.storage("7 tree", "GET", `/api/WebRestoreTreeNode?${q}`);
    if (!Array.isArray(r)) throw new Error(`py42 would crash: a tree answer that is not a list (${JSON.stringify(r).slice(0, 100)})`);
    return r as TreeNode[];
  }

  /** Step 7's walk: py42 splits the path on "/" and matches each level case-insensitively. */
  async find(sessionId: string, deviceGuid: string, backupSetId: string, path: string, showDeleted = true): Promise<TreeNode> {
    const parts = path.split("/");
    const roots = await this.nodes(sessionId, deviceGuid, backupSetId, undefined, showDeleted);
    let node = roots.find((r) => r.path.toLowerCase() === `${parts[0]}/`.toLowerCase());
    for (const part of parts.slice(1).filter((x) => x !== "")) {
      if (node === undefined) break;
      const kids = await this.nodes(sessionId, deviceGuid, backupSetId, node.id, showDeleted);
      const want = posix.join(node.path, part).toLowerCase();
      node = kids.find((k) => k.path.toLowerCase() === want);
    }
    if (node === undefined) throw new Error(`Py42ArchiveFileNotFoundError: ${path}`);
    return node;
  }

  /** Steps 8–9. */
  async size(deviceGuid: string, fileId: string): Promise<{ status: string; numFiles: number; numDirs: number; size: number }> {
    const j = (await this.storage("8 size", "POST", "/api/WebRestoreFileSizePolling", { guid: deviceGuid, fileId, timestamp: null, showDeleted: null })) as {
      jobId: string;
    };
    return (await this.storage("9 size poll", "GET", `/api/WebRestoreFileSizePolling?jobId=${j.jobId}&guid=${deviceGuid}`)) as {
      status: string;
      numFiles: number;
      numDirs: number;
      size: number;
    };
  }

  /** Steps 1–10 of a zip restore; returns the job id. */
  async startWeb(deviceGuid: string, paths: string[], o: RestoreRequest = {}): Promise<string> {
    const s = await this.openSession(deviceGuid, o);
    const set = await this.backupSetId(deviceGuid, s.destinationGuid);
    const files = [];
    for (const p of paths) {
      const n = await this.find(s.sessionId, deviceGuid, set, p);
      await this.size(deviceGuid, n.id);
      files.push({ fileType: n.type.toUpperCase(), path: n.path, selected: true });
    }
    const r = (await this.storage("10 restore", "POST", "/api/v9/restore/web", {
      sourceComputerGuid: deviceGuid,
      webRestoreSessionId: s.sessionId,
      restoreGroups: [{ backupSetId: set, files }],
      numFiles: 1,
      numDirs: 1,
      numBytes: 1,
      expireJob: null,
      showDeleted: o.showDeleted ?? true,
      restoreFullPath: o.restoreFullPath ?? null,
      restoreToServer: o.restoreToServer ?? null,
      timestamp: o.timestamp ?? null,
    })) as { jobId: string };
    return r.jobId;
  }

  /** Step 11: polls until done. */
  async waitJob(jobId: string): Promise<Record<string, unknown>> {
    for (let i = 0; ; i++) {
      const j = (await this.storage("11 job", "GET", `/api/WebRestoreJob/${jobId}`)) as Record<string, unknown>;
      if (j.done === true) return j;
      if (i > 2000) throw new Error("the job never reached done");
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Step 12: the zip bytes (with this client's storage token, or another credential). */
  result(jobId: string, authorization?: string, cutAfter?: number): Promise<BinaryAnswer> {
    return download(this.a, this.agent, `/api/WebRestoreJobResult/${jobId}`, authorization ?? `token ${this.storageToken}`, cutAfter);
  }

  /** The whole zip restore: steps 1–12. */
  async zip(deviceGuid: string, paths: string[], o: RestoreRequest = {}): Promise<{ jobId: string; job: Record<string, unknown>; zip: BinaryAnswer }> {
    const jobId = await this.startWeb(deviceGuid, paths, o);
    const job = await this.waitJob(jobId);
    return { jobId, job, zip: await this.result(jobId) };
  }

  /**
   * A push restore as `stream_to_device` sends it (API.md §10): steps 1–9 on the source, the
   * data key token, `connectedServerUrl` of the receiving device, a session on that URL with the
   * Bearer JWT, `WebRestoreInfo`, then `restore/push`. Returns the job id.
   */
  async push(
    sourceGuid: string,
    acceptingGuid: string,
    paths: string[],
    target: {
      restorePath: string;
      fileLocation?: "ORIGINAL_LOCATION" | "TARGET_DIRECTORY" | null;
      existingFiles?: "RENAME_ORIGINAL" | "OVERWRITE_ORIGINAL";
      filePermissions?: string | null;
    },
    o: RestoreRequest = {},
  ): Promise<string> {
    const s = await this.openSession(sourceGuid, o);
    const set = await this.backupSetId(sourceGuid, s.destinationGuid);
    const files = [];
    let numBytes = 0;
    for (const p of paths) {
      const n = await this.find(s.sessionId, sourceGuid, set, p);
      numBytes += (await this.size(sourceGuid, n.id)).size;
      files.push({ fileType: n.type.toUpperCase(), path: n.path, selected: true });
    }
    if (!o.noDataKeyToken) await this.platform("p2 data key token", "POST", "/api/DataKeyToken", { computerGuid: sourceGuid });
    const c = (await this.platform("p3 connected server", "GET", `/api/connectedServerUrl?guid=${acceptingGuid}`)) as { serverUrl: string | null };
    if (c.serverUrl === null) throw new Error("Py42DeviceNotConnectedError");
    const ses = (await this.platform("p4 session", "POST", "/api/WebRestoreSession", {
      computerGuid: sourceGuid,
      dataKeyToken: null,
      privatePassword: o.privatePassword ?? null,
      encryptionKey: o.encryptionKey ?? null,
    })) as { webRestoreSessionId: string };
    const info = (await this.platform("p5 info", "GET", `/api/WebRestoreInfo?srcGuid=${sourceGuid}&destGuid=${s.destinationGuid}`)) as { nodeGuid: string };
    const r = (await this.platform("p6 push", "POST", "/api/v9/restore/push", {
      sourceComputerGuid: sourceGuid,
      acceptingComputerGuid: acceptingGuid,
      webRestoreSessionId: ses.webRestoreSessionId,
      targetNodeGuid: info.nodeGuid,
      restorePath: target.restorePath,
      restoreGroups: [{ backupSetId: set, files }],
      numFiles: files.length,
      numBytes,
      showDeleted: o.showDeleted ?? null,
      permitRestoreToDifferentOsVersion: target.fileLocation === "ORIGINAL_LOCATION",
      filePermissions: target.filePermissions ?? null,
      restoreFullPath: null,
      fileLocation: target.fileLocation ?? null,
      existingFiles: target.existingFiles ?? "RENAME_ORIGINAL",
    })) as { jobId: string };
    return r.jobId;
  }

  /** Polls a job with the Bearer JWT (push jobs live on C, the authority) until done. */
  async waitPlatformJob(jobId: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const j = (await this.platform("job", "GET", `/api/WebRestoreJob/${jobId}`)) as Record<string, unknown>;
      if (j.done === true) return j;
      if (Date.now() > until) throw new Error(`the job never reached done: ${JSON.stringify(j)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The storage credential in use (`token t1-t2`). */
  get token(): string {
    return `token ${this.storageToken}`;
  }

  /** A storage call as this client (for steps of push restores and tests). */
  call(step: string, method: string, path: string, body?: unknown): Promise<unknown> {
    return this.storage(step, method, path, body);
  }

  /** A platform call as this client. */
  platformCall(step: string, method: string, path: string, body?: unknown): Promise<unknown> {
    return this.platform(step, method, path, body);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Downloads a path as raw bytes; `cutAfter` destroys the socket after that many body bytes (T11). */
export function download(a: TestAuthority, agent: Agent, path: string, authorization: string, cutAfter?: number): Promise<BinaryAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, a.url), { method: "GET", agent, headers: { accept: "application/octet-stream", authorization } }, (res) => {
      const parts: Buffer[] = [];
      let n = 0;
      let truncated = false;
      res.on("data", (c: Buffer) => {
        parts.push(c);
        n += c.length;
        if (cutAfter !== undefined && n >= cutAfter) {
          truncated = true;
          res.destroy();
        }
      });
      const done = () => {
        const body = Buffer.concat(parts);
        const len = Number(res.headers["content-length"] ?? Number.NaN);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          truncated: truncated || (Number.isFinite(len) && body.length !== len) || !res.complete,
        });
      };
      res.on("end", done);
      res.on("close", done);
      res.on("aborted", () => {
        truncated = true;
      });
    });
    req.on("error", (err) => reject(err));
    req.end();
  });
}

/** `unzip -t` of a buffer: true when the archive tests clean. */
export function unzipTest(zip: Buffer, path: string): { ok: boolean; output: string } {
  writeFileSync(path, zip);
  try {
    return { ok: true, output: execFileSync("unzip", ["-t", path], { encoding: "utf8" }) };
  } catch (err) {
    return { ok: false, output: String((err as { stdout?: string }).stdout ?? err) };
  }
}

/** Every entry of a zip with its bytes, read by an independent parser (yauzl, strict names off). */
export function zipEntries(zip: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false }, (err, z) => {
      if (err || !z) return reject(err ?? new Error("no zip"));
      const out = new Map<string, Buffer>();
      z.on("entry", (e: yauzl.Entry) => {
        if (e.fileName.endsWith("/")) {
          out.set(e.fileName, Buffer.alloc(0));
          return z.readEntry();
        }
        z.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2 ?? new Error("no stream"));
          const parts: Buffer[] = [];
          s.on("data", (c: Buffer) => parts.push(c));
          s.on("end", () => {
            out.set(e.fileName, Buffer.concat(parts));
            z.readEntry();
          });
          s.on("error", reject);
        });
      });
      z.on("end", () => resolve(out));
      z.on("error", reject);
      z.readEntry();
    });
  });
}
