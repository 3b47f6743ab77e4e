/** Display formats: bytes, counts, dates, durations, rates. */

const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

/** 1536 → "1.5 KB" (powers of 1024, as the source platform shows sizes). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  if (n < 0) return "Unlimited";
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

/** 12345 → "12,345". */
export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? "—" : n.toLocaleString("en-US");
}

/** 1 → "1 archive", 3 → "3 archives" (`plural` when adding an "s" is wrong). */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${count(n)} ${n === 1 ? singular : plural}`;
}

/** An ISO timestamp as "2024-05-01 12:00" in the browser's time zone. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (x: number) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** An ISO timestamp or YYYY-MM-DD as "2024-05-01". */
export function date(iso: string | null | undefined): string {
  if (!iso) return "—";
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;
  return dateTime(iso).slice(0, 10);
}

/** Milliseconds as "1 h 2 min", "3.2 s". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return "—";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} days`;
}

/** Bytes per second as "1.5 MB/s". */
export function rate(bps: number | null | undefined): string {
  return bps === null || bps === undefined ? "—" : `${bytes(bps)}/s`;
}

/** -1 → "Unlimited", otherwise the number with its unit. */
export function limit(n: number | null | undefined, unit: string): string {
  if (n === null || n === undefined) return "—";
  return n < 0 ? "Unlimited" : `${count(n)} ${unit}`;
}
