#!/usr/bin/env node
// Writes the committed fuzz corpus in protocol/test/corpus/: hostile and edge-case frames that
// every decoder must reject with a typed error (or accept, for the valid ones), replayed by
// protocol/test/codec.test.ts. Add a file whenever a new crash is found.
import { writeFileSync } from "node:fs";
import { Packr } from "msgpackr";

const out = new URL("../test/corpus/", import.meta.url);
const packr = new Packr({ useRecords: false });
const hdr = (ch = 1) => Buffer.from([0x43, 0x4e, 1, ch]);
const frame = (v, ch) => Buffer.concat([hdr(ch), packr.pack(v)]);
const raw = (...bytes) => Buffer.concat([hdr(), Buffer.from(bytes)]);
let deep = {};
for (let i = 0; i < 500; i++) deep = { a: deep };
const files = {
  "valid-put.bin": frame({ type: "put", id: Buffer.alloc(32, 1), sha: Buffer.alloc(32, 2), data: Buffer.from("x") }),
  "valid-req.bin": frame({ type: "req", id: 1, method: "have", params: { ids: Buffer.alloc(32) } }),
  "proto-pollution.bin": frame(JSON.parse('{"type":"req","id":1,"method":"have","params":{"__proto__":{"polluted":true},"ids":"x"}}')),
  "constructor-key.bin": frame({ type: "evt", event: "heal", data: { constructor: { prototype: { x: 1 } } } }),
  "deep-nesting.bin": frame({ type: "req", id: 1, method: "have", params: deep }),
  "array32-huge.bin": raw(0xdd, 0xff, 0xff, 0xff, 0xff),
  "map32-huge.bin": raw(0xdf, 0xff, 0xff, 0xff, 0xff),
  "str32-huge.bin": raw(0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61),
  "bin32-huge.bin": raw(0xc6, 0xff, 0xff, 0xff, 0xff, 0x00),
  "ext-timestamp.bin": raw(0xd6, 0xff, 0, 0, 0, 0),
  "ext-unknown.bin": raw(0xc7, 0x03, 0x42, 1, 2, 3),
  "nil-body.bin": raw(0xc0),
  "never-used-c1.bin": raw(0xc1),
  "float-nan-id.bin": frame({ type: "req", id: Number.NaN, method: "have", params: {} }),
  "bigint-id.bin": raw(
    0x84,
    0xa4,
    ...Buffer.from("type"),
    0xa3,
    ...Buffer.from("req"),
    0xa2,
    ...Buffer.from("id"),
    0xcf,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xa6,
    ...Buffer.from("method"),
    0xa4,
    ...Buffer.from("have"),
    0xa6,
    ...Buffer.from("params"),
    0x80,
  ),
  "duplicate-keys.bin": raw(0x82, 0xa4, ...Buffer.from("type"), 0xa3, ...Buffer.from("ack"), 0xa4, ...Buffer.from("type"), 0xa3, ...Buffer.from("put")),
  "ack-odd-length.bin": frame({ type: "ack", ids: Buffer.alloc(33) }),
  "wrong-channel.bin": frame({ type: "ack", ids: Buffer.alloc(32) }, 2),
  "header-only.bin": hdr(),
  "truncated-put.bin": frame({ type: "put", id: Buffer.alloc(32, 1), sha: Buffer.alloc(32, 2), data: Buffer.alloc(100) }).subarray(0, 60),
};
for (const [name, buf] of Object.entries(files)) writeFileSync(new URL(name, out), buf);
console.log(`${Object.keys(files).length} corpus files`);
