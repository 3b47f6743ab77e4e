/**
 * The authority backup file (`cairn authority backup`), format 1. All integers big-endian.
 *
 *   "CAIRN-AUTHORITY-BACKUP 1\n"                          magic line (25 bytes)
 *   envelope: JSON on one line, then "\n"                 {format, encrypted, createdAt, cipher?}
 *   body:     plain entry stream, or (encrypted) frames   u32 length ‖ AES-256-GCM ciphertext ‖ tag
 *
 * Entry stream: one record per file, then an end record.
 *
 *   file:  u8 1 ‖ u16 name length ‖ name (UTF-8, relative, "/"-separated) ‖ u32 mode ‖ u64 size
 *          ‖ 32-byte SHA-256 of the data ‖ data
 *   end:   u8 0 ‖ 32-byte SHA-256 of every byte of the stream before it
 *
 * The first file is `manifest.json` ({authorityGuid, schemaVersion, createdAt, files}).
 *
 * Encryption (a passphrase given): a random 32-byte file key, wrapped by the passphrase with the
 * protocol's `wrapKeyWithPassword` (scrypt N=2^16, r=8, p=1, then AES-256-GCM; context
 * `authority-backup:<noncePrefix>`), stored base64 in `envelope.cipher.wrappedKey`. The stream is
 * cut into 1 MiB chunks sealed with AES-256-GCM under the file key: nonce = 4-byte random prefix
 * (`envelope.cipher.noncePrefix`) ‖ u64 chunk counter; AAD = "cairn/authority-backup/v1" ‖ u8
 * last-chunk flag. The last chunk carries flag 1, so a truncated, reordered or spliced file does
 * not decrypt.
 */
import { createCipheriv, createDecipheriv, createHash, type Hash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, readSync, writeSync } from "node:fs";
import { CairnError, DEFAULT_SCRYPT, generateKey, type ScryptParams, unwrapKeyWithPassword, wrapKeyWithPassword } from "@cairn/protocol";

/** The first line of every backup file. */
export const BACKUP_MAGIC = "CAIRN-AUTHORITY-BACKUP 1\n";
const CHUNK = 1024 * 1024;
const TAG = 16;
const AAD = Buffer.from("cairn/authority-backup/v1", "utf8");
const MAX_NAME = 1024;

/** The plaintext envelope after the magic line. */
export interface BackupEnvelope {
  format: 1;
  encrypted: boolean;
  createdAt: number;
  cipher?: { alg: "aes-256-gcm/scrypt"; wrappedKey: string; noncePrefix: string; chunkBytes: number };
}

const nonceOf = (prefix: Buffer, n: bigint) => {
  const b = Buffer.alloc(12);
  prefix.copy(b, 0);
  b.writeBigUInt64BE(n, 4);
  return b;
};
const aadOf = (last: boolean) => Buffer.concat([AAD, Buffer.from([last ? 1 : 0])]);

/** Writes the envelope and an entry stream to a file descriptor, sealing it when a key is given. */
export class BackupWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private counter = 0n;
  private readonly streamHash = createHash("sha256");
  private readonly key: Buffer | null;
  private readonly prefix: Buffer;

  constructor(
    private readonly fd: number,
    o: { passphrase?: string; createdAt: number; scrypt?: ScryptParams },
  ) {
    this.prefix = randomBytes(4);
    let env: BackupEnvelope = { format: 1, encrypted: false, createdAt: o.createdAt };
    if (o.passphrase !== undefined) {
      if (o.passphrase.length < 8) throw new CairnError("USAGE", "the backup passphrase must be at least 8 characters");
      this.key = generateKey();
      const wrapped = wrapKeyWithPassword(o.passphrase, this.key, `authority-backup:${this.prefix.toString("hex")}`, o.scrypt ?? DEFAULT_SCRYPT);
      env = {
        ...env,
        encrypted: true,
        cipher: { alg: "aes-256-gcm/scrypt", wrappedKey: wrapped.toString("base64"), noncePrefix: this.prefix.toString("hex"), chunkBytes: CHUNK },
      };
    } else this.key = null;
    this.raw(Buffer.from(`${BACKUP_MAGIC}${JSON.stringify(env)}\n`, "utf8"));
  }

  private raw(b: Buffer): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
  }

  private seal(plain: Buffer, last: boolean): void {
    const c = createCipheriv("aes-256-gcm", this.key as Buffer, nonceOf(this.prefix, this.counter++));
    c.setAAD(aadOf(last));
    const body = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    this.raw(Buffer.concat([len, body]));
  }

  /** Appends bytes of the entry stream. */
  write(b: Buffer): void {
    this.streamHash.update(b);
    if (this.key === null) {
      this.raw(b);
      return;
    }
    this.pending.push(b);
    this.pendingBytes += b.length;
    while (this.pendingBytes > CHUNK) {
      const all = Buffer.concat(this.pending);
      this.seal(all.subarray(0, CHUNK), false);
      this.pending = [all.subarray(CHUNK)];
      this.pendingBytes = all.length - CHUNK;
    }
  }

  /** Appends one file record's header; the caller then writes exactly `size` bytes of data. */
  fileHeader(name: string, mode: number, size: number, sha256: Buffer): void {
    const n = Buffer.from(name, "utf8");
    if (n.length === 0 || n.length > MAX_NAME) throw new CairnError("INTERNAL", `bad entry name ${name}`);
    const h = Buffer.alloc(1 + 2 + n.length + 4 + 8 + 32);
    h.writeUInt8(1, 0);
    h.writeUInt16BE(n.length, 1);
    n.copy(h, 3);
    h.writeUInt32BE(mode & 0o7777, 3 + n.length);
    h.writeBigUInt64BE(BigInt(size), 7 + n.length);
    sha256.copy(h, 15 + n.length);
    this.write(h);
  }

  /** Ends the stream (end record, last sealed chunk), fsyncs and closes the descriptor. */
  finish(): void {
    const end = Buffer.concat([Buffer.from([0]), (this.streamHash.copy() as Hash).digest()]);
    this.write(end);
    if (this.key !== null) this.seal(Buffer.concat(this.pending), true);
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}

/** Reads a backup file's envelope and entry stream, opening sealed chunks with the passphrase. */
export class BackupReader {
  readonly envelope: BackupEnvelope;
  private buf = Buffer.alloc(0);
  private filePos = 0;
  private counter = 0n;
  private sawLast = false;
  private readonly key: Buffer | null = null;
  private readonly prefix: Buffer = Buffer.alloc(4);
  private readonly streamHash = createHash("sha256");

  constructor(
    private readonly fd: number,
    passphrase: string | undefined,
  ) {
    const head = this.rawRead(4096);
    const magic = Buffer.from(BACKUP_MAGIC, "utf8");
    if (head.length < magic.length || !head.subarray(0, magic.length).equals(magic)) throw new CairnError("INTEGRITY", "not a Cairn authority backup");
    const nl = head.indexOf(0x0a, magic.length);
    if (nl === -1) throw new CairnError("INTEGRITY", "the backup's envelope is damaged");
    try {
      this.envelope = JSON.parse(head.subarray(magic.length, nl).toString("utf8")) as BackupEnvelope;
    } catch (cause) {
      throw new CairnError("INTEGRITY", "the backup's envelope is damaged", { cause });
    }
    if (this.envelope.format !== 1) throw new CairnError("UNSUPPORTED", `backup format ${String(this.envelope.format)} is not supported by this build`);
    this.filePos = nl + 1;
    if (this.envelope.encrypted) {
      const c = this.envelope.cipher;
      if (c === undefined) throw new CairnError("INTEGRITY", "the backup's envelope is damaged");
      if (passphrase === undefined)
        throw new CairnError("DECRYPT_FAILED", "this backup is encrypted: give its passphrase (--passphrase-file or CAIRN_BACKUP_PASSPHRASE)");
      this.prefix = Buffer.from(c.noncePrefix, "hex");
      try {
        this.key = unwrapKeyWithPassword(passphrase, Buffer.from(c.wrappedKey, "base64"), `authority-backup:${c.noncePrefix}`);
      } catch (cause) {
        throw new CairnError("DECRYPT_FAILED", "wrong passphrase for this backup", { cause });
      }
    }
  }

  private rawRead(n: number, at = this.filePos): Buffer {
    const b = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, b, got, n - got, at + got);
      if (r === 0) break;
      got += r;
    }
    return b.subarray(0, got);
  }

  private fill(n: number): void {
    while (this.buf.length < n) {
      if (this.key === null) {
        const more = this.rawRead(Math.max(CHUNK, n - this.buf.length));
        if (more.length === 0) throw new CairnError("INTEGRITY", "the backup file is truncated");
        this.filePos += more.length;
        this.buf = Buffer.concat([this.buf, more]);
        continue;
      }
      if (this.sawLast) throw new CairnError("INTEGRITY", "the backup file is truncated");
      const len = this.rawRead(4);
      if (len.length < 4) throw new CairnError("INTEGRITY", "the backup file is truncated");
      const size = len.readUInt32BE(0);
      if (size < TAG || size > CHUNK + TAG) throw new CairnError("INTEGRITY", "the backup file is damaged");
      const body = this.rawRead(size, this.filePos + 4);
      if (body.length < size) throw new CairnError("INTEGRITY", "the backup file is truncated");
      this.filePos += 4 + size;
      const last = this.rawRead(1).length === 0;
      const d = createDecipheriv("aes-256-gcm", this.key, nonceOf(this.prefix, this.counter++));
      d.setAAD(aadOf(last));
      d.setAuthTag(body.subarray(size - TAG));
      try {
        this.buf = Buffer.concat([this.buf, d.update(body.subarray(0, size - TAG)), d.final()]);
      } catch (cause) {
        throw new CairnError("INTEGRITY", "the backup file is damaged or was altered", { cause });
      }
      this.sawLast = last;
    }
  }

  /** Reads exactly `n` bytes of the entry stream. */
  read(n: number): Buffer {
    this.fill(n);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.streamHash.update(out);
    return out;
  }

  /** The next file header, or null at the end record (whose stream hash is checked). */
  nextFile(): { name: string; mode: number; size: number; sha256: Buffer } | null {
    const before = this.streamHash.copy().digest();
    const type = this.read(1)[0];
    if (type === 0) {
      const h = this.read(32);
      if (!h.equals(before)) throw new CairnError("INTEGRITY", "the backup's stream checksum does not match");
      if (this.buf.length !== 0 || (this.key === null ? this.rawRead(1).length !== 0 : !this.sawLast))
        throw new CairnError("INTEGRITY", "the backup file has data after its end");
      return null;
    }
    if (type !== 1) throw new CairnError("INTEGRITY", "the backup file is damaged");
    const nameLen = this.read(2).readUInt16BE(0);
    if (nameLen === 0 || nameLen > MAX_NAME) throw new CairnError("INTEGRITY", "the backup file is damaged");
    const name = this.read(nameLen).toString("utf8");
    const mode = this.read(4).readUInt32BE(0);
    const size = Number(this.read(8).readBigUInt64BE(0));
    const sha256 = Buffer.from(this.read(32));
    return { name, mode, size, sha256 };
  }
}
