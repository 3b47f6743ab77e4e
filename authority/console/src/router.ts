/**
 * Hash routing: `#/orgs/3?status=deactivated&page=2`. The hash keeps every view linkable (filter,
 * sort and page live in the query) without the server having to know the console's routes.
 */
import { computed, signal } from "@preact/signals";

/** The current location: a path and its query. */
export interface Location {
  path: string;
  query: URLSearchParams;
}

function parse(hash: string): Location {
  const raw = hash.replace(/^#/, "") || "/";
  const i = raw.indexOf("?");
  const path = (i < 0 ? raw : raw.slice(0, i)) || "/";
  return { path: path.startsWith("/") ? path : `/${path}`, query: new URLSearchParams(i < 0 ? "" : raw.slice(i + 1)) };
}

/** The location, updated on every hash change. */
export const location = signal<Location>(parse(window.location.hash));
window.addEventListener("hashchange", () => {
  location.value = parse(window.location.hash);
});

/** Path segments of the current location. */
export const segments = computed(() => location.value.path.split("/").filter(Boolean));

/** A link target for `path` with `query` (empty values left out). */
export function href(path: string, query?: Record<string, string | number | boolean | null | undefined>): string {
  const qs = new URLSearchParams();
  if (query) for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  const s = qs.toString();
  return `#${path}${s ? `?${s}` : ""}`;
}

/** Goes to `path` (adds a history entry). */
export function navigate(path: string, query?: Record<string, string | number | boolean | null | undefined>): void {
  window.location.hash = href(path, query).slice(1);
}

/**
 * Changes some query parameters of the current location, keeping the others; `null` removes one.
 * `replace` rewrites the history entry instead of adding one (typing in a search box).
 */
export function setQuery(changes: Record<string, string | number | null>, replace = false): void {
  const { path, query } = location.value;
  const next = new URLSearchParams(query);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === "") next.delete(k);
    else next.set(k, String(v));
  }
  const s = next.toString();
  const target = `#${path}${s ? `?${s}` : ""}`;
  if (replace) {
    window.history.replaceState(null, "", target);
    location.value = parse(target);
  } else window.location.hash = target.slice(1);
}

/** A query parameter of the current location, or `fallback`. */
export function param(name: string, fallback = ""): string {
  return location.value.query.get(name) ?? fallback;
}

/** A positive integer query parameter (page numbers), or `fallback`. */
export function intParam(name: string, fallback: number): number {
  const n = Number.parseInt(location.value.query.get(name) ?? "", 10);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}
