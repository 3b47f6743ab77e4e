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

/**
 * Forms with unsaved changes (see `useLeaveGuard`). While there is one, leaving the view (a link,
 * a tab, the browser's Back) is held in {@link pendingLeave} until the person confirms, and
 * closing or reloading the page asks the browser's own question.
 */
const unsaved = new Map<symbol, LeaveRule>();
/** The hash a held navigation goes to once confirmed; null when none is held. */
export const pendingLeave = signal<string | null>(null);

/** Which moves leave a form: another page, or also another tab (`?tab=`) of the same page. */
export type LeaveRule = "page" | "tab";

/** Marks form `id` as having unsaved changes, or not; `rule` says which moves leave it. */
export function setUnsaved(id: symbol, dirty: boolean, rule: LeaveRule = "tab"): void {
  if (dirty) unsaved.set(id, rule);
  else unsaved.delete(id);
}

/** Whether going from `from` to `to` leaves a form with unsaved changes. */
function leavesUnsaved(from: Location, to: Location): boolean {
  for (const rule of unsaved.values()) {
    if (from.path !== to.path) return true;
    if (rule === "tab" && (from.query.get("tab") ?? "") !== (to.query.get("tab") ?? "")) return true;
  }
  return false;
}

/** Leaves anyway: the unsaved changes are dropped and the held navigation goes ahead. */
export function confirmLeave(): void {
  const target = pendingLeave.value;
  pendingLeave.value = null;
  unsaved.clear();
  if (target !== null) window.location.hash = target.replace(/^#/, "");
}

/** Stays on the view with its unsaved changes. */
export function cancelLeave(): void {
  pendingLeave.value = null;
}

window.addEventListener("hashchange", (e) => {
  if (leavesUnsaved(location.value, parse(window.location.hash))) {
    // Put the address back and ask first.
    pendingLeave.value = window.location.hash || "#/";
    window.history.replaceState(null, "", new URL(e.oldURL).hash || "#/");
    return;
  }
  location.value = parse(window.location.hash);
});
window.addEventListener("beforeunload", (e) => {
  if (unsaved.size === 0) return;
  e.preventDefault();
  e.returnValue = "";
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
    if (leavesUnsaved(location.value, parse(target))) {
      pendingLeave.value = target;
      return;
    }
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
