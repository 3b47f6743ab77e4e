/** The URL-held state every list shares: status filter, search text, sort and page. */
import { intParam, param, setQuery } from "../router.js";
import type { Sort } from "./table.js";

/** Rows per page of every server-paged list. */
export const PAGE_SIZE = 50;

/** List state read from the URL, with setters that write it back. */
export interface ListParams {
  status: "active" | "deactivated";
  q: string;
  sort: Sort | null;
  page: number;
  srtKey: string | undefined;
  srtDir: "asc" | "desc" | undefined;
  onSort: (key: string) => void;
  onPage: (page: number) => void;
  setStatus: (s: "active" | "deactivated") => void;
}

/** Reads the list state of the current URL. */
export function listParams(): ListParams {
  const sort: Sort | null = param("sort") ? { key: param("sort"), dir: param("dir") === "desc" ? "desc" : "asc" } : null;
  return {
    status: param("status") === "deactivated" ? "deactivated" : "active",
    q: param("q"),
    sort,
    page: intParam("page", 1),
    srtKey: sort?.key,
    srtDir: sort?.dir,
    onSort: (k) => setQuery({ sort: k, dir: sort?.key === k && sort.dir === "asc" ? "desc" : "asc", page: null }),
    onPage: (p) => setQuery({ page: p }),
    setStatus: (s) => setQuery({ status: s === "active" ? null : s, page: null }),
  };
}
