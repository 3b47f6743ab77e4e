// worker pool over a dataset with an immediate "main": all chunks needed, buffers recycled at once
import { readdirSync, lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { WorkerPool } from "./dist/upload/worker-pool.js";
const root = process.argv[2];
const files = []; let idx = 1;
const walk = (d) => { for (const n of readdirSync(d)) { const p = join(d, n); const st = lstatSync(p); if (st.isDirectory()) walk(p); else if (st.isFile() && st.size > 0) files.push({ idx: idx++, path: p, size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs, ino: st.ino, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }); } };
walk(root);
const tasks = []; let cur = []; let b = 0;
for (const f of files) { if (f.size >= 1 << 20) { tasks.push([f]); continue; } cur.push(f); b += f.size; if (b >= 4 << 20 || cur.length >= 256) { tasks.push(cur); cur = []; b = 0; } }
if (cur.length) tasks.push(cur);
let peak = 0; const rssOf = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1024;
let peakMaps = null;
const smaps = () => { const txt = readFileSync("/proc/self/smaps", "utf8"); const by = {}; let cur = null; let tot = 0;
  for (const line of txt.split("\n")) { const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line); if (m) { const size = (parseInt(m[2], 16) - parseInt(m[1], 16)) / 1024; cur = (m[3] || "[anon]") + (m[3].startsWith("/") ? "" : size >= 65536 ? ">=64M" : size >= 8192 ? ">=8M" : size >= 1024 ? ">=1M" : "<1M"); if (m[3].startsWith("/")) cur = "file"; if (size >= 4096 && !m[3]) cur = "anon" + Math.round(size / 1024) + "M@" + m[1].slice(0, 6); continue; } const r = /^Rss:\s+(\d+) kB/.exec(line); if (r && cur) { by[cur] = (by[cur] ?? 0) + Number(r[1]); tot += Number(r[1]); } }
  return { tot, by }; };
const iv = setInterval(() => { const r = rssOf(); if (r > peak) { peak = r; peakMaps = smaps(); } }, 100);
const seen = new Set(); let done = 0; let next = 0; const t0 = performance.now(); const c0 = process.cpuUsage();
const held = []; // simulate in-flight: hold K sealed buffers before recycling
const K = Number(process.env.K ?? 6);
await new Promise((resolve, reject) => {
  const pool = new WorkerPool({ archiveKey: Buffer.alloc(32, 7), archiveGuid: "123456789012345678", compress: "auto", cpuPercent: 100 }, {
    onError: reject,
    onMessage: (w, m) => {
      if (m.t === "win") { const need = new Uint8Array(m.sizes.length); for (let i = 0; i < need.length; i++) { const k = Buffer.from(m.ids.subarray(i * 32, i * 32 + 32)).toString("latin1"); need[i] = seen.has(k) ? 0 : 1; seen.add(k); } pool.post(w, { t: "need", win: m.win, need }); }
      else if (m.t === "sealed") { if (m.buf) { held.push([w, m.buf]); while (held.length > K) { const [ww, ab] = held.shift(); pool.post(ww, { t: "recycle", buf: ab }, [ab]); } } }
      else if (m.t === "taskdone") { done++; if (next < tasks.length) pool.submit(tasks[next++]); if (done === tasks.length) { pool.close().then(resolve); } }
    } }, 2);
  for (let i = 0; i < 6 && next < tasks.length; i++) pool.submit(tasks[next++]);
});
clearInterval(iv);
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ s: +((performance.now() - t0) / 1000).toFixed(2), cpu: +((c.user + c.system) / 1e6).toFixed(2), peakRssMiB: Math.round(peak), maps: Object.fromEntries(Object.entries(peakMaps.by).map(([k, v]) => [k, Math.round(v / 1024)])) }));
