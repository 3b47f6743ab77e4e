/**
 * The file-system calls a directory block store makes, as an interface, so that tests can put a
 * failing disk (ENOSPC, EIO, a short write) or a power-loss recorder (RELIABILITY.md H1, H3)
 * between the store and the real disk. {@link nodeStoreFs} is the real thing.
 */
import { constants } from "node:fs";
import fs from "node:fs/promises";
import { writeDirect } from "./direct-io.js";

/** An open file. */
export interface StoreFile {
  /**
   * Writes all of `buffers` at the current end. A file created with `direct` takes exactly one
   * write: its whole content.
   */
  write(buffers: readonly Buffer[]): Promise<void>;
  /** Reads up to `length` bytes at `position` into `buf`; returns the bytes read. */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /**
   * Reads consecutive bytes at `position` into `buffers`, one after the other (one `preadv`);
   * returns the bytes read, fewer only at the end of the file. Optional: without it a store
   * reads block by block.
   */
  readv?(buffers: readonly Buffer[], position: number): Promise<number>;
  /** fsync. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** File-system operations of a block store. Paths are absolute. */
export interface StoreFs {
  /**
   * Creates a new file for writing; fails when it exists (O_CREAT|O_EXCL). With `direct`, the
   * file bypasses the page cache where the file system allows it (one whole-file write).
   */
  create(path: string, opts?: { direct?: boolean }): Promise<StoreFile>;
  /** Opens an existing file for reading. */
  openRead(path: string): Promise<StoreFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Creates a directory and its parents; true when it did not exist. */
  mkdirp(path: string): Promise<boolean>;
  /** Names in a directory ([] when it does not exist). */
  readdir(path: string): Promise<string[]>;
  /** Size of a file, or null when it does not exist. */
  size(path: string): Promise<number | null>;
  /** fsync of a directory, so that renames and creations in it are durable. */
  syncDir(path: string): Promise<void>;
}

const IOV_MAX = 512;

class NodeFile implements StoreFile {
  constructor(
    private readonly fh: fs.FileHandle,
    private readonly direct = false,
  ) {}
  async write(buffers: readonly Buffer[]): Promise<void> {
    if (this.direct && (await writeDirect(this.fh, buffers))) return;
    for (let i = 0; i < buffers.length; i += IOV_MAX) {
      const part = buffers.slice(i, i + IOV_MAX);
      let want = 0;
      for (const b of part) want += b.length;
      const { bytesWritten } = await this.fh.writev(part as Buffer[]);
      // writev may write less than asked (a full disk or a signal); finish the rest one by one.
      if (bytesWritten < want) await this.finish(part, bytesWritten);
    }
  }
  private async finish(part: readonly Buffer[], done: number): Promise<void> {
    let skip = done;
    for (const b of part) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      let rest = b.subarray(skip);
      skip = 0;
      while (rest.length > 0) {
        const { bytesWritten } = await this.fh.write(rest);
        if (bytesWritten === 0) throw Object.assign(new Error("short write"), { code: "EIO" });
        rest = rest.subarray(bytesWritten);
      }
    }
  }
  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.fh.read(buf, offset + got, length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  }
  async readv(buffers: readonly Buffer[], position: number): Promise<number> {
    let want = 0;
    for (const b of buffers) want += b.length;
    const { bytesRead } = await this.fh.readv(buffers as Buffer[], position);
    if (bytesRead >= want || bytesRead === 0) return bytesRead;
    // a short read before the end (a signal): the rest buffer by buffer
    let got = bytesRead;
    let skip = bytesRead;
    for (const b of buffers) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      const n = await this.read(b, skip, b.length - skip, position + got);
      got += n;
      if (n < b.length - skip) break;
      skip = 0;
    }
    return got;
  }
  sync(): Promise<void> {
    return this.fh.sync();
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

let directSupported = true;

/** The real file system. */
export const nodeStoreFs: StoreFs = {
  async create(path, opts = {}) {
    const flags = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY;
    if (opts.direct && constants.O_DIRECT !== undefined && directSupported) {
      try {
        return new NodeFile(await fs.open(path, flags | constants.O_DIRECT, 0o600), true);
      } catch (err) {
        // tmpfs and some FUSE file systems refuse O_DIRECT: use the page cache there.
        if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
        directSupported = false;
      }
    }
    return new NodeFile(await fs.open(path, flags, 0o600));
  },
  async openRead(path) {
    return new NodeFile(await fs.open(path, "r"));
  },
  rename: (from, to) => fs.rename(from, to),
  unlink: (path) => fs.unlink(path),
  async mkdirp(path) {
    return (await fs.mkdir(path, { recursive: true, mode: 0o700 })) !== undefined;
  },
  async readdir(path) {
    try {
      return await fs.readdir(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  },
  async size(path) {
    try {
      return (await fs.stat(path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  },
  async syncDir(path) {
    const fh = await fs.open(path, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
