import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { ManualClock } from "@cairn/protocol";
import { DirStore } from "../src/blockstore/dir-store.js";
import { FaultyFs } from "../src/blockstore/faulty-fs.js";
import { runBlockStoreTests } from "../src/blockstore/testing.js";

runBlockStoreTests("DirStore", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-dirstore-"));
  const clock = new ManualClock();
  const fs = new FaultyFs();
  let db = new Database(join(dir, "index.db"));
  let store = new DirStore({ dir, db, clock, fs });
  await store.recover();
  return {
    store,
    async reopen() {
      await store.close();
      db.close();
      db = new Database(join(dir, "index.db"));
      store = new DirStore({ dir, db, clock, fs });
      await store.recover();
      return store;
    },
    async rot(id) {
      const info = db.prepare<[Buffer], { pack: number; offset: number }>("SELECT pack, offset FROM bs_blocks WHERE id = ?").get(id);
      if (!info) throw new Error("no such block");
      const path = store.packPath(info.pack);
      const fd = openSync(path, "r+");
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, info.offset + 3);
      b[0] = (b[0] as number) ^ 0x01;
      writeSync(fd, b, 0, 1, info.offset + 3);
      closeSync(fd);
    },
    failNextWrite(code) {
      fs.fail("write", code);
    },
    async teardown() {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
