/** Saves a file the authority sends (CSV exports, restore zips) through the browser's download. */
import { fetchRaw, type Query, type RequestOptions } from "./api/client.js";

function filenameOf(res: Response, fallback: string): string {
  const cd = res.headers.get("Content-Disposition") ?? "";
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  return m?.[1] ? decodeURIComponent(m[1]) : fallback;
}

/** Saves a Blob under `name`. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Lets the browser download `url` (same origin: the session cookie goes along) straight to disk. */
export function saveUrl(url: string, name: string): void {
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
}

/** GETs (or POSTs `body` to) `path` and saves the answer; the error of the API when it fails. */
export async function download(path: string, fallbackName: string, opts: { query?: Query; body?: unknown; accept?: string } = {}): Promise<string> {
  const ro: RequestOptions = { accept: opts.accept ?? "text/csv" };
  if (opts.query) ro.query = opts.query;
  if (opts.body !== undefined) ro.body = opts.body;
  const res = await fetchRaw(opts.body === undefined ? "GET" : "POST", path, ro);
  const name = filenameOf(res, fallbackName);
  saveBlob(await res.blob(), name);
  return name;
}
