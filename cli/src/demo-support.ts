/**
 * Helpers for `cairn demo`: a small HTTPS JSON client that pins the authority's certificate
 * fingerprint (as administrators' scripts would trust it), a generated sample tree, and a tree
 * snapshot to compare restores byte for byte.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join, relative } from "node:path";
import type { TLSSocket } from "node:tls";
import { CairnError, fingerprintsMatch } from "@cairn/protocol";

/** A JSON client for the authority's REST API. */
export class ApiClient {
  private token: string | null = null;
  constructor(
    readonly baseUrl: string,
    private readonly fingerprint: string,
  ) {}

  /** Signs in as py42 does (`/c42api/v3/auth/jwt` with Basic credentials). */
  async login(username: string, password: string): Promise<void> {
    const basic = Buffer.from(`${username}:${password}`).toString("base64");
    const r = (await this.send("GET", "/c42api/v3/auth/jwt?useBody=True", undefined, `Basic ${basic}`)) as { data?: { v3_user_token?: string } };
    const t = r.data?.v3_user_token;
    if (!t) throw new CairnError("UNAUTHORIZED", "the authority did not return a token");
    this.token = t;
  }

  /** Sends a request and returns the `data` of the envelope. */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const r = (await this.send(method, path, body, this.token ? `Bearer ${this.token}` : undefined)) as { data?: T } | T;
    return (r && typeof r === "object" && "data" in r ? (r as { data: T }).data : r) as T;
  }

  private send(method: string, path: string, body: unknown, authorization: string | undefined): Promise<unknown> {
    const url = new URL(path, this.baseUrl);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          rejectUnauthorized: false,
          headers: {
            accept: "application/json",
            ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
            ...(authorization ? { authorization } : {}),
          },
        },
        (res) => {
          const cert = (res.socket as TLSSocket).getPeerCertificate();
          if (!cert?.fingerprint256 || !fingerprintsMatch(cert.fingerprint256, this.fingerprint)) {
            res.destroy();
            reject(new CairnError("TLS_FINGERPRINT_MISMATCH", "the authority's certificate does not match its fingerprint"));
            return;
          }
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            let json: unknown = null;
            try {
              json = text ? JSON.parse(text) : null;
            } catch {
              json = text;
            }
            if (status >= 400) {
              const first = Array.isArray(json) ? (json[0] as { name?: string; description?: string } | undefined) : undefined;
              reject(new CairnError("BAD_REQUEST", `${method} ${path}: ${status} ${first?.name ?? ""} ${first?.description ?? text.slice(0, 200)}`));
              return;
            }
            resolve(json);
          });
        },
      );
      req.on("error", reject);
      if (payload) req.write(payload);
      req.end();
    });
  }
}

/** Deterministic pseudo-random bytes for the sample tree. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

const WORDS = "backup restore archive version block chunk device organization user policy destination storage node authority agent".split(" ");

function prose(n: number, seed: number): string {
  const parts: string[] = [];
  let len = 0;
  let x = seed;
  while (len < n) {
    x = (x * 48271) % 2147483647;
    const w = WORDS[x % WORDS.length] as string;
    parts.push(w);
    len += w.length + 1;
  }
  return `${parts.join(" ").slice(0, n)}\n`;
}

/** Writes the demo's sample home folder: documents, source, photos, an empty file, a symlink. */
export function writeSampleTree(root: string): { files: number; bytes: number } {
  let files = 0;
  let total = 0;
  const put = (rel: string, data: string | Buffer, mode = 0o644) => {
    const p = join(root, rel);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, data, { mode });
    files++;
    total += typeof data === "string" ? Buffer.byteLength(data) : data.length;
  };
  for (let i = 0; i < 40; i++) put(`Documents/reports/report-${i}.txt`, prose(2000 + i * 300, i + 1));
  for (let i = 0; i < 30; i++) put(`Projects/cairn-demo/src/module-${i}.ts`, `export const value${i} = ${i};\n${prose(1500, 100 + i)}`);
  put("Projects/cairn-demo/run.sh", "#!/bin/sh\necho hello\n", 0o755);
  for (let i = 0; i < 6; i++) put(`Pictures/holiday/photo-${i}.jpg`, bytes(300_000 + i * 50_000, 7 + i));
  put("Videos/clip.mp4", bytes(6 * 1024 * 1024, 99));
  put("Documents/Überblick – notes ✓.md", prose(4000, 5));
  put("Documents/empty.txt", "");
  for (let d = 0, p = "deep"; d < 12; d++, p += `/level-${d}`) put(`${p}/file.txt`, prose(200, d + 500));
  symlinkSync("Documents/reports/report-0.txt", join(root, "latest-report"));
  return { files, bytes: total };
}

/** Changes the sample tree: edits, additions, a deletion, a grown video. */
export function changeSampleTree(root: string): void {
  writeFileSync(join(root, "Documents/reports/report-3.txt"), prose(5000, 4242));
  writeFileSync(join(root, "Documents/new-plan.md"), prose(3000, 777));
  writeFileSync(join(root, "Projects/cairn-demo/src/module-7.ts"), `export const value7 = 70;\n${prose(1600, 9999)}`);
  const video = readFileSync(join(root, "Videos/clip.mp4"));
  writeFileSync(join(root, "Videos/clip.mp4"), Buffer.concat([video.subarray(0, 1_000_000), bytes(4096, 1234), video.subarray(1_000_000)]));
  writeFileSync(join(root, "Pictures/holiday/photo-5.jpg"), Buffer.alloc(0));
  rmSync(join(root, "Documents/reports/report-9.txt"));
}

/** Path → {type, mode, sha256 or link target} for every entry below `root`. */
export function snapshotTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      const rel = relative(root, p);
      if (st.isSymbolicLink()) out.set(rel, `link ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.set(rel, `dir ${(st.mode & 0o7777).toString(8)}`);
        walk(p);
      } else out.set(rel, `file ${(st.mode & 0o7777).toString(8)} ${st.size} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
    }
  };
  walk(root);
  return out;
}

/** Differences between two snapshots (empty when identical). */
export function diffSnapshots(want: Map<string, string>, got: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of want) if (got.get(k) !== v) out.push(`${k}: want ${v}, got ${got.get(k) ?? "missing"}`);
  for (const k of got.keys()) if (!want.has(k)) out.push(`${k}: unexpected`);
  return out;
}
