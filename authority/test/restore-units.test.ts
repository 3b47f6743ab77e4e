/**
 * The pure parts of restores: entry-name safety (T35), the exact zip length archiver writes
 * (T11: Content-Length and the job's expected size), the plan of a selection (base names,
 * full paths, renames, skips), the storage-hop tokens of API.md §9, and opening archive keys
 * under each key policy (DECISIONS.md).
 */
import { Writable } from "node:stream";
import { Readable } from "node:stream";
import {
  deriveArchiveKeys,
  ERROR_CODES,
  fileIdFor,
  generateKey,
  isCairnError,
  ManualClock,
  newGuid,
  TEST_SCRYPT,
  wrapContext,
  wrapKey,
  wrapKeyWithPassword,
} from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { openArchiveKey, parseCustomKey } from "../src/restores/archive-keys.js";
import { Catalog, type CatalogEntry } from "../src/restores/catalog.js";
import { planPushRestore, planRestore } from "../src/restores/restore-plan.js";
import { StorageTokens, STORAGE_TOKEN_IDLE_MS } from "../src/restores/storage-auth.js";
import { parentPath, unsafeReason } from "../src/restores/zip-names.js";
import { writeZip, type ZipItem, zipLength } from "../src/restores/zip-writer.js";

describe("zip entry names (T35)", () => {
  it.each([
    ["../../etc/x"],
    ["/abs/x"],
    ["C:\\x"],
    ["C:/x"],
    ["..\\..\\x"],
    ["a/../../b"],
    ["a/./b"],
    [`a/${"n".repeat(256)}`],
    ["x\u0000y"],
    ["bell\u0007"],
    ["a/\u2025/b"],
    ["a/\uff0e\uff0e/b"],
    ["a/\u2024/b"],
    ["a//b"],
    ["a/"],
  ])("refuses %j", (name) => {
    expect(unsafeReason(name)).not.toBeNull();
  });

  it.each([["a.txt"], ["docs/report.bin"], ["été/ça.txt"], ["a/...b"], ["Foo Bar/x (2).txt"]])("accepts %j", (name) => {
    expect(unsafeReason(name)).toBeNull();
  });

  it("finds parents of POSIX and drive paths", () => {
    expect(parentPath("/a/b")).toBe("/a");
    expect(parentPath("/a")).toBe("/");
    expect(parentPath("/")).toBeNull();
    expect(parentPath("C:/x/y")).toBe("C:/x");
    expect(parentPath("C:/x")).toBe("C:/");
    expect(parentPath("C:/")).toBeNull();
  });
});

async function written(items: ZipItem[]): Promise<number> {
  let n = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb();
    },
  });
  const pointer = await writeZip(sink, items);
  expect(pointer).toBe(n);
  return n;
}

describe("zip length (T11)", () => {
  const file = (name: string, data: Buffer): ZipItem => ({
    kind: "file",
    name,
    size: data.length,
    mtimeMs: Date.UTC(2025, 1, 2),
    mode: 0o644,
    open: () => Readable.from([data]),
  });

  it("equals what archiver writes, for files, empty files, folders, UTF-8 names and text entries", async () => {
    const items: ZipItem[] = [
      { kind: "dir", name: "docs", mtimeMs: Date.UTC(2025, 1, 1), mode: 0o755 },
      file("docs/a.txt", Buffer.from("hello\n")),
      file("docs/empty", Buffer.alloc(0)),
      file("docs/été.bin", Buffer.alloc(70_000, 7)),
      { kind: "dir", name: "docs/deep", mtimeMs: 0, mode: 0o700 },
      { kind: "text", name: "RESTORE-WARNINGS.txt", data: Buffer.from("one line\n"), mtimeMs: Date.UTC(2026, 0, 1) },
    ];
    expect(await written(items)).toBe(zipLength(items));
    expect(await written([])).toBe(zipLength([]));
  });

  it("fails when a file's stream fails (no silent short zip)", async () => {
    const bad: ZipItem = {
      kind: "file",
      name: "x",
      size: 10,
      mtimeMs: 0,
      mode: 0o644,
      open: () =>
        new Readable({
          read() {
            this.destroy(new Error("block missing"));
          },
        }),
    };
    await expect(written([bad])).rejects.toThrow(/block missing/);
  });
});

function catalog(paths: [string, "file" | "dir" | "symlink", number][]): Catalog {
  const keys = deriveArchiveKeys(generateKey(), newGuid());
  const cat = new Catalog(keys, null, false);
  for (const [path, type, size] of paths) {
    const fileId = fileIdFor(keys, path);
    const e: CatalogEntry = {
      id: fileId.toString("hex"),
      fileId,
      path,
      type,
      deleted: false,
      synthetic: false,
      size,
      mtimeMs: 1,
      mode: 0o644,
      target: type === "symlink" ? "/etc" : null,
      blocks: Buffer.alloc(0),
      blockSizes: [],
      versionTime: 1,
    };
    cat.add(e);
  }
  return cat;
}

describe("restore plans", () => {
  const cat = catalog([
    ["/home/ana/docs/a.txt", "file", 5],
    ["/home/ana/docs/A.TXT", "file", 6],
    ["/home/ana/docs/deep/b.bin", "file", 7],
    ["/home/ana/link", "symlink", 0],
    ["/srv/docs/c.txt", "file", 8],
  ]);

  it("names a file by its base name and a folder by its name with its subtree; sizes come from the catalog", () => {
    const p = planRestore(cat, [{ path: "/HOME/ana/docs", fileType: "DIRECTORY" }], { showDeleted: false, fullPath: false });
    expect(p.entries.map((e) => e.name)).toEqual(["docs", "docs/A.TXT", "docs/a (2).txt", "docs/deep", "docs/deep/b.bin"]);
    expect([p.files, p.dirs, p.bytes]).toEqual([3, 2, 18]);
    expect(p.warnings.some((w) => w.includes("renamed"))).toBe(true);
  });

  it("keeps two same-named folders apart, skips links, drops a selection inside another", () => {
    const p = planRestore(
      cat,
      [
        { path: "/home/ana/docs", fileType: "DIRECTORY" },
        { path: "/srv/docs", fileType: "DIRECTORY" },
        { path: "/home/ana/docs/deep/b.bin", fileType: "FILE" },
        { path: "/home/ana/link", fileType: "FILE" },
        { path: "/nowhere", fileType: "FILE" },
      ],
      { showDeleted: false, fullPath: false },
    );
    expect(p.entries.map((e) => e.name)).toContain("docs (2)/c.txt");
    expect(p.entries.filter((e) => e.entry.path.endsWith("b.bin"))).toHaveLength(1);
    expect(p.warnings.filter((w) => w.includes("/home/ana/link"))).toHaveLength(1);
    expect(p.warnings.filter((w) => w.includes("not in the backup"))).toHaveLength(1);
  });

  it("keeps full paths without the leading slash, and refuses an empty selection", () => {
    const p = planRestore(cat, [{ path: "/srv/docs/c.txt", fileType: "FILE" }], { showDeleted: false, fullPath: true });
    expect(p.entries.map((e) => e.name)).toEqual(["srv/docs/c.txt"]);
    expect(() => planRestore(cat, [{ path: "/nowhere", fileType: "FILE" }], { showDeleted: false, fullPath: false })).toThrow(/Nothing restorable/);
  });

  it("a push restore with nothing found is 400 CREATE_FAILED, py42's bad-restore name (API.md §10)", () => {
    for (const selected of [[{ path: "/nowhere", fileType: "FILE" as const }], []]) {
      let err: unknown;
      try {
        planPushRestore(cat, selected, { showDeleted: false, fullPath: false });
      } catch (e) {
        err = e;
      }
      expect(isCairnError(err, "CREATE_FAILED"), String(err)).toBe(true);
      expect((err as Error).message).toContain("CREATE_FAILED");
      expect(ERROR_CODES.CREATE_FAILED.http).toBe(400);
      // a zip of the same selection keeps §8's plain 400
      expect(() => planRestore(cat, selected, { showDeleted: false, fullPath: false })).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
    }
    expect(planPushRestore(cat, [{ path: "/srv/docs", fileType: "DIRECTORY" }], { showDeleted: false, fullPath: false }).paths).toEqual(["/srv/docs"]);
  });

  it("a push restores symbolic links (the agent recreates them) where a zip skips them with a warning", () => {
    const link = [{ path: "/home/ana/link", fileType: "FILE" as const }];
    const push = planPushRestore(cat, link, { showDeleted: false, fullPath: false });
    expect(push.paths).toEqual(["/home/ana/link"]);
    expect(push.entries.map((e) => e.entry.type)).toEqual(["symlink"]);
    expect(push.warnings).toEqual([]);
    expect(() => planRestore(cat, link, { showDeleted: false, fullPath: false })).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
  });

  it("lists a selected file renamed beside another of the same name; a push counts names only a zip refuses", () => {
    const two = catalog([
      ["/home/ana/notes.txt", "file", 3],
      ["/srv/notes.txt", "file", 4],
      ["/srv/back\\slash.txt", "file", 5],
    ]);
    const both = [
      { path: "/home/ana/notes.txt", fileType: "FILE" as const },
      { path: "/srv/notes.txt", fileType: "FILE" as const },
    ];
    const zip = planRestore(two, both, { showDeleted: false, fullPath: false });
    expect(zip.entries.map((e) => e.name)).toEqual(["notes.txt", "notes (2).txt"]);
    expect(zip.warnings).toEqual(['renamed "/srv/notes.txt" to "notes (2).txt": another selected item has that name']);
    const slash = [{ path: "/srv", fileType: "DIRECTORY" as const }];
    expect(planRestore(two, slash, { showDeleted: false, fullPath: false }).warnings).toEqual([expect.stringContaining("backslash")]);
    const push = planPushRestore(two, slash, { showDeleted: false, fullPath: false });
    expect([push.files, push.bytes, push.warnings]).toEqual([2, 9, []]);
  });
});

describe("storage-hop tokens (API.md §9)", () => {
  it("spends a login token once, gives a pair without '-', slides the pair's expiry with use", () => {
    const clock = new ManualClock();
    const t = new StorageTokens(clock);
    const login = t.issueLogin({ userId: 7, authVersion: 1 });
    const pair = t.redeemLogin(login);
    expect(pair.every((x) => !x.includes("-"))).toBe(true);
    expect(() => t.redeemLogin(login)).toThrow(/login token/);
    const joined = pair.join("-");
    expect(t.verify(joined)).toEqual({ userId: 7, authVersion: 1 });
    clock.advance(STORAGE_TOKEN_IDLE_MS - 1000);
    expect(t.verify(joined).userId).toBe(7);
    clock.advance(STORAGE_TOKEN_IDLE_MS - 1000);
    expect(t.verify(joined).userId).toBe(7);
    clock.advance(STORAGE_TOKEN_IDLE_MS + 1);
    expect(() => t.verify(joined)).toThrow(/unknown or expired/);
    expect(() => t.verify(`${pair[0]}-wrong`)).toThrow();
    const late = t.issueLogin({ userId: 7, authVersion: 1 });
    clock.advance(5 * 60_000 + 1);
    expect(() => t.redeemLogin(late)).toThrow();
  });
});

describe("archive keys under each policy", () => {
  const userUid = newGuid();
  const archiveGuid = newGuid();
  const uk = generateKey();
  const ak = generateKey();
  const kek = generateKey();
  const wrapped = { archiveGuid, userUid, keyVersion: 1, wrapped: wrapKey(uk, ak, wrapContext.archiveKey(userUid, archiveGuid, 1)) };
  const none = { privatePassword: null, encryptionKey: null };

  it("escrow: opens with the KEK, asking nothing of the caller", () => {
    const rec = {
      userId: 1,
      keyPolicy: "escrow" as const,
      keyVersion: 1,
      escrowWrapped: wrapKey(kek, uk, wrapContext.userKey(userUid, 1)),
      passwordWrapped: null,
    };
    expect(openArchiveKey(kek, rec, wrapped, none, "escrow").equals(ak)).toBe(true);
  });

  it("password: only with the right archive password", () => {
    const rec = {
      userId: 1,
      keyPolicy: "password" as const,
      keyVersion: 1,
      escrowWrapped: null,
      passwordWrapped: wrapKeyWithPassword("correct horse", uk, wrapContext.userKey(userUid, 1), TEST_SCRYPT),
    };
    expect(() => openArchiveKey(kek, rec, wrapped, none, "password")).toThrow(/PRIVATE_PASSWORD_INVALID/);
    expect(() => openArchiveKey(kek, rec, wrapped, { privatePassword: "wrong", encryptionKey: null }, "password")).toThrow(/PRIVATE_PASSWORD_INVALID/);
    expect(openArchiveKey(kek, rec, wrapped, { privatePassword: "correct horse", encryptionKey: null }, "password").equals(ak)).toBe(true);
  });

  it("custom: only with the right key, as hex or base64", () => {
    const rec = { userId: 1, keyPolicy: "custom" as const, keyVersion: 1, escrowWrapped: null, passwordWrapped: null };
    expect(() => openArchiveKey(kek, rec, wrapped, none, "custom")).toThrow(/CUSTOM_KEY_INVALID/);
    expect(() => openArchiveKey(kek, rec, wrapped, { privatePassword: null, encryptionKey: generateKey().toString("hex") }, "custom")).toThrow(
      /CUSTOM_KEY_INVALID/,
    );
    expect(openArchiveKey(kek, rec, wrapped, { privatePassword: null, encryptionKey: uk.toString("hex") }, "custom").equals(ak)).toBe(true);
    expect(openArchiveKey(kek, rec, wrapped, { privatePassword: null, encryptionKey: uk.toString("base64") }, "custom").equals(ak)).toBe(true);
    expect(parseCustomKey("not a key")).toBeNull();
  });

  it("an escrowed record opens for nobody once the org's policy is stronger (raised after the user registered)", () => {
    const rec = {
      userId: 1,
      keyPolicy: "escrow" as const,
      keyVersion: 1,
      escrowWrapped: wrapKey(kek, uk, wrapContext.userKey(userUid, 1)),
      passwordWrapped: null,
    };
    expect(() => openArchiveKey(kek, rec, wrapped, none, "password")).toThrow(/PRIVATE_PASSWORD_INVALID/);
    expect(() => openArchiveKey(kek, rec, wrapped, { privatePassword: "anything", encryptionKey: null }, "password")).toThrow(/PRIVATE_PASSWORD_INVALID/);
    expect(() => openArchiveKey(kek, rec, wrapped, none, "custom")).toThrow(/CUSTOM_KEY_INVALID/);
    // a record stronger than the org's policy (the user raised it) is opened under its own policy
    const pw = {
      ...rec,
      keyPolicy: "password" as const,
      escrowWrapped: null,
      passwordWrapped: wrapKeyWithPassword("pw", uk, wrapContext.userKey(userUid, 1), TEST_SCRYPT),
    };
    expect(openArchiveKey(kek, pw, wrapped, { privatePassword: "pw", encryptionKey: null }, "escrow").equals(ak)).toBe(true);
  });

  it("a purged archive (no wrapped key) opens for nobody", () => {
    const rec = {
      userId: 1,
      keyPolicy: "escrow" as const,
      keyVersion: 1,
      escrowWrapped: wrapKey(kek, uk, wrapContext.userKey(userUid, 1)),
      passwordWrapped: null,
    };
    expect(() => openArchiveKey(kek, rec, { ...wrapped, wrapped: null }, none, "escrow")).toThrow(/purged/);
  });
});
