import { createHash, randomBytes } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKey } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup, runRestore } from "../src/agent-api.js";
import { quietLogger, tempDir } from "./helpers.js";
import { type DevNode, startDevNode } from "./support/dev-node.js";

/** path → "type mode size sha" for every entry below dir. */
export function treeOf(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const r = `${rel}/${n}`;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(r, `link ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.set(r, `dir ${(st.mode & 0o7777).toString(8)}`);
        walk(p, r);
      } else out.set(r, `file ${(st.mode & 0o7777).toString(8)} ${st.size} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
    }
  };
  walk(dir, "");
  return out;
}

describe("backup engine against a data-channel node", () => {
  let node: DevNode;
  const t = tempDir();
  const src = join(t.dir, "src");
  const data = join(t.dir, "agent");
  const archiveKey = generateKey();
  const guid = "222222222222222222";
  beforeAll(async () => {
    node = await startDevNode();
    mkdirSync(join(src, "deep/a/b/c/d/e/f"), { recursive: true });
    writeFileSync(join(src, "deep/a/b/c/d/e/f/leaf.txt"), "leaf\n");
    writeFileSync(join(src, "empty"), "");
    writeFileSync(join(src, "ünïcødé 文件.txt"), "unicode\n");
    writeFileSync(join(src, "big.bin"), randomBytes(5 * 1024 * 1024));
    writeFileSync(join(src, "text.txt"), "some text that compresses well\n".repeat(100_000));
    writeFileSync(join(src, "exec.sh"), "#!/bin/sh\necho hi\n");
    chmodSync(join(src, "exec.sh"), 0o750);
    symlinkSync("text.txt", join(src, "link-to-text"));
    symlinkSync("/etc/passwd", join(src, "abs-link"));
  });
  afterAll(async () => {
    await node.close();
    t.cleanup();
  });
  const archive = () => ({ endpoint: { archiveGuid: guid, url: node.url, fingerprint: node.fingerprint, token: "t" }, archiveKey });

  it("backs up a tree, restores it byte for byte and mode for mode, and a second backup uploads nothing", async () => {
    const r1 = await runBackup({ dataDir: data, archives: [archive()], selection: { include: [src], exclude: [], excludePatterns: [] }, logger: quietLogger });
    expect(r1.errors).toBe(0);
    expect(r1.files).toBe(6);
    expect(r1.uploadedBytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(r1.uploadedBytes).toBeLessThan(6 * 1024 * 1024);
    const out = join(t.dir, "restore1");
    const rr = await runRestore({ dataDir: data, archive: archive(), target: out, fullPath: false, paths: [src], logger: quietLogger });
    expect(rr.errors).toBe(0);
    expect(treeOf(join(out, "src"))).toEqual(treeOf(src));
    const before = node.received();
    const r2 = await runBackup({ dataDir: data, archives: [archive()], selection: { include: [src], exclude: [], excludePatterns: [] }, logger: quietLogger });
    expect(r2.changedFiles).toBe(0);
    expect(r2.uploadedBytes).toBe(0);
    expect(node.received()).toBe(before);
    expect(r2.destinations[0]?.seq).toBe(2);
  });
});
