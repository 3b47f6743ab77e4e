import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { archivePathComponents, originalName, placeRestored, RestoreMapper } from "../src/restore/safe-path.js";
import { tempDir } from "./helpers.js";

describe("restore path safety", () => {
  it("refuses relative, dot-dot, empty-component and NUL paths", () => {
    expect(archivePathComponents("/home/u/a.txt")).toEqual(["home", "u", "a.txt"]);
    for (const bad of ["../../etc/x", "a/b", "/a/../../b", "/a/./b", "/a//b", "/a/b\0c", "", "/x/" + "y".repeat(300)]) {
      expect(() => archivePathComponents(bad), bad).toThrow(expect.objectContaining({ code: "UNSAFE_PATH" }));
    }
    // backslashes are ordinary name characters on POSIX: they cannot escape
    expect(archivePathComponents("/..\\..\\x")).toEqual(["..\\..\\x"]);
  });

  it("never walks through a symlinked parent below the target", () => {
    const t = tempDir();
    const target = join(t.dir, "target");
    const outside = join(t.dir, "outside");
    mkdirSync(target);
    mkdirSync(outside);
    symlinkSync(outside, join(target, "evil"));
    const m = new RestoreMapper(target, 0);
    expect(() => m.ensureParents(["evil", "passwd"], "/evil/passwd")).toThrow(expect.objectContaining({ code: "UNSAFE_PATH" }));
    m.ensureParents(["ok", "deep", "file"], "/ok/deep/file");
    expect(m.local(["ok", "deep", "file"])).toBe(join(target, "ok/deep/file"));
    t.cleanup();
  });

  it("a rename restore moves the file there aside to a free name, never over another file", () => {
    const t = tempDir();
    try {
      const dest = join(t.dir, "a.txt");
      writeFileSync(dest, "the user's own");
      writeFileSync(join(t.dir, "a (original).txt"), "restored a moment ago");
      writeFileSync(join(t.dir, ".tmp-restore"), "from the backup");
      expect(placeRestored(join(t.dir, ".tmp-restore"), dest, "rename")).toBe(dest);
      expect(readFileSync(dest, "utf8")).toBe("from the backup");
      expect(readFileSync(join(t.dir, "a (original).txt"), "utf8")).toBe("restored a moment ago");
      expect(readFileSync(join(t.dir, "a (original 2).txt"), "utf8")).toBe("the user's own");
    } finally {
      t.cleanup();
    }
  });

  it("picks a free name for the file a rename restore moves aside", () => {
    const taken = new Set(["/d/a (original).txt"]);
    expect(originalName("/d/a.txt", (p) => taken.has(p))).toBe("/d/a (original 2).txt");
    expect(originalName("/d/noext", () => false)).toBe("/d/noext (original)");
  });
});
