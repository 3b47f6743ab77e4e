/**
 * The pack file format (docs/storenode.md has the byte diagram). A pack is written once, in one
 * go, and never modified: a 32-byte pack header, then one record per block, each a 76-byte
 * record header followed by the block's bytes.
 *
 *     pack header   0 "CNPK" · 4 version u8 (1) · 5 three zero bytes · 8 pack id u64 BE ·
 *                   16 created (epoch ms) u64 BE · 24 four zero bytes · 28 CRC-32 of bytes 0..27
 *     record        0 "CNB1" · 4 block id (32) · 36 data length u32 BE · 40 SHA-256 of data (32) ·
 *                   72 CRC-32 of bytes 0..71 · 76 data
 *
 * Packs are self-describing, so the index can be rebuilt from them alone (T08): a scanner reads
 * records in order, checks each header's CRC and each block's SHA-256, and resynchronizes on the
 * next record magic after a damaged stretch.
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { MAX_SEALED_BLOCK_BYTES } from "@cairn/protocol";
import type { StoreFile } from "./store-fs.js";

/** Bytes of the pack header. */
export const PACK_HEADER_BYTES = 32;
/** Bytes of a record header. */
export const RECORD_HEADER_BYTES = 76;
/** Pack format version. */
export const PACK_FORMAT_VERSION = 1;

const PACK_MAGIC = Buffer.from("CNPK", "latin1");
const RECORD_MAGIC = Buffer.from("CNB1", "latin1");

/** The header that starts a pack. */
export function encodePackHeader(packId: number, createdMs: number): Buffer {
  const b = Buffer.alloc(PACK_HEADER_BYTES);
  PACK_MAGIC.copy(b, 0);
  b[4] = PACK_FORMAT_VERSION;
  b.writeBigUInt64BE(BigInt(packId), 8);
  b.writeBigUInt64BE(BigInt(createdMs), 16);
  b.writeUInt32BE(crc32(b.subarray(0, 28)), 28);
  return b;
}

/** Parses a pack header; null when it is not one. */
export function decodePackHeader(b: Buffer): { packId: number; createdMs: number } | null {
  if (b.length < PACK_HEADER_BYTES || !b.subarray(0, 4).equals(PACK_MAGIC) || b[4] !== PACK_FORMAT_VERSION) return null;
  if (b.readUInt32BE(28) !== crc32(b.subarray(0, 28))) return null;
  return { packId: Number(b.readBigUInt64BE(8)), createdMs: Number(b.readBigUInt64BE(16)) };
}

/** The header of one block record. */
export function encodeRecordHeader(id: Buffer, length: number, sha: Buffer): Buffer {
  const b = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  RECORD_MAGIC.copy(b, 0);
  id.copy(b, 4);
  b.writeUInt32BE(length, 36);
  sha.copy(b, 40);
  b.writeUInt32BE(crc32(b.subarray(0, 72)), 72);
  return b;
}

/** A parsed record header. */
export interface RecordHeader {
  id: Buffer;
  length: number;
  sha: Buffer;
}

/** Parses a record header; null when the magic, CRC or length is wrong. */
export function decodeRecordHeader(b: Buffer): RecordHeader | null {
  if (b.length < RECORD_HEADER_BYTES || !b.subarray(0, 4).equals(RECORD_MAGIC)) return null;
  if (b.readUInt32BE(72) !== crc32(b.subarray(0, 72))) return null;
  const length = b.readUInt32BE(36);
  if (length < 1 || length > MAX_SEALED_BLOCK_BYTES) return null;
  return { id: Buffer.from(b.subarray(4, 36)), length, sha: Buffer.from(b.subarray(40, 72)) };
}

/** SHA-256 of a block's bytes. */
export function blockSha(data: Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}

/** One valid record found by {@link scanPack}: where its data starts and how long it is. */
export interface ScannedRecord extends RecordHeader {
  offset: number;
}

/** What a scan found. */
export interface PackScan {
  header: { packId: number; createdMs: number } | null;
  records: ScannedRecord[];
  /** Bytes that belonged to no valid record (torn tail, rot, garbage). */
  damagedBytes: number;
}

const SCAN_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * Reads a whole pack and returns its valid records (header CRC and data SHA-256 both check out).
 * Works on truncated, torn or partly overwritten packs: after a bad stretch it looks for the next
 * record magic. Memory stays bounded by the scan window plus one block.
 */
export async function scanPack(file: StoreFile, size: number): Promise<PackScan> {
  const head = Buffer.alloc(PACK_HEADER_BYTES);
  const got = await file.read(head, 0, PACK_HEADER_BYTES, 0);
  const header = got === PACK_HEADER_BYTES ? decodePackHeader(head) : null;
  const records: ScannedRecord[] = [];
  let damagedBytes = 0;
  let pos = header ? PACK_HEADER_BYTES : 0;
  const rh = Buffer.alloc(RECORD_HEADER_BYTES);
  while (pos + RECORD_HEADER_BYTES <= size) {
    await file.read(rh, 0, RECORD_HEADER_BYTES, pos);
    const rec = decodeRecordHeader(rh);
    if (rec && pos + RECORD_HEADER_BYTES + rec.length <= size) {
      const data = Buffer.allocUnsafe(rec.length);
      await file.read(data, 0, rec.length, pos + RECORD_HEADER_BYTES);
      if (blockSha(data).equals(rec.sha)) {
        records.push({ ...rec, offset: pos + RECORD_HEADER_BYTES });
        pos += RECORD_HEADER_BYTES + rec.length;
        continue;
      }
    }
    const next = await findMagic(file, pos + 1, size);
    damagedBytes += next - pos;
    pos = next;
  }
  damagedBytes += Math.max(0, size - pos);
  return { header, records, damagedBytes };
}

async function findMagic(file: StoreFile, from: number, size: number): Promise<number> {
  const win = Buffer.allocUnsafe(SCAN_WINDOW_BYTES);
  let pos = from;
  while (pos + RECORD_HEADER_BYTES <= size) {
    const n = await file.read(win, 0, Math.min(SCAN_WINDOW_BYTES, size - pos), pos);
    const at = win.subarray(0, n).indexOf(RECORD_MAGIC);
    if (at >= 0) return pos + at;
    if (n < RECORD_MAGIC.length) break;
    pos += n - (RECORD_MAGIC.length - 1);
  }
  return size;
}
