/**
 * A semantic data table: `<table>` with a caption, sortable column headers as `<th><button>`
 * with `aria-sort`, one `data-testid` per row, optional row selection, and the loading, empty and
 * error states. Paging is the server's: the table shows one page and the {@link Pager} moves.
 */
import type { ComponentChildren } from "preact";
import { count } from "../format.js";
import { Empty, ErrorState, Loading } from "./status.js";

/** One column. */
export interface Column<T> {
  id: string;
  label: string;
  /** The server's `srtKey` for this column; absent when the column cannot be sorted. */
  sortKey?: string;
  numeric?: boolean;
  /** Keep the cell on one line (dates, sizes). */
  nowrap?: boolean;
  render: (row: T) => ComponentChildren;
}

/** Sort order of a list. */
export interface Sort {
  key: string;
  dir: "asc" | "desc";
}

/** What {@link DataTable} takes. */
export interface DataTableProps<T> {
  caption: string;
  columns: Column<T>[];
  rows: T[] | undefined;
  status: "loading" | "ready" | "error";
  error?: string | null;
  onRetry?: () => void;
  rowKey: (row: T) => string | number;
  testId: (row: T) => string;
  emptyText: ComponentChildren;
  sort?: Sort | null;
  onSort?: (key: string) => void;
  /** Opens a row (click anywhere on it that is not a control). */
  onOpen?: (row: T) => void;
  /** Row selection (checkbox column). */
  selected?: ReadonlySet<string | number>;
  onSelect?: (row: T, on: boolean) => void;
  onSelectAll?: (on: boolean) => void;
  rowLabel?: (row: T) => string;
  rowClass?: (row: T) => string;
  /** A row drawn as one full-width cell instead of columns (tree "show more" rows). */
  fullRow?: (row: T) => ComponentChildren | null;
}

function isControl(el: EventTarget | null): boolean {
  return el instanceof Element && el.closest("a,button,input,select,textarea,label,[role=menu]") !== null;
}

/** The table. */
export function DataTable<T>(p: DataTableProps<T>) {
  const rows = p.rows ?? [];
  const selecting = p.onSelect !== undefined && p.selected !== undefined;
  const allSelected = selecting && rows.length > 0 && rows.every((r) => p.selected?.has(p.rowKey(r)));
  const width = p.columns.length + (selecting ? 1 : 0);
  const header = (c: Column<T>) => {
    const sorted = p.sort && c.sortKey && p.sort.key === c.sortKey ? p.sort.dir : null;
    const ariaSort: "ascending" | "descending" | "none" | undefined =
      sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : c.sortKey ? "none" : undefined;
    return (
      <th key={c.id} scope="col" aria-sort={ariaSort} class={c.numeric ? "num" : undefined}>
        {c.sortKey && p.onSort ? (
          <button type="button" class="th-sort" onClick={() => p.onSort?.(c.sortKey as string)}>
            {c.label}
            <span class="sort-mark" aria-hidden="true">
              {sorted === "asc" ? "▲" : sorted === "desc" ? "▼" : "↕"}
            </span>
          </button>
        ) : (
          c.label
        )}
      </th>
    );
  };
  return (
    <div class="table-wrap">
      <table class="data" aria-busy={p.status === "loading"}>
        <caption class="sr-only">{p.caption}</caption>
        <thead>
          <tr>
            {selecting && (
              <th scope="col" class="sel">
                <input
                  type="checkbox"
                  aria-label="Select all"
                  checked={allSelected}
                  onChange={(e) => p.onSelectAll?.(e.currentTarget.checked)}
                  data-testid="select-all"
                />
              </th>
            )}
            {p.columns.map(header)}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const key = p.rowKey(r);
            const full = p.fullRow?.(r);
            if (full !== undefined && full !== null)
              return (
                <tr key={key} data-testid={p.testId(r)} class="full-row">
                  <td colSpan={width}>{full}</td>
                </tr>
              );
            return (
              <tr
                key={key}
                data-testid={p.testId(r)}
                class={[p.onOpen ? "clickable" : "", p.rowClass?.(r) ?? ""].join(" ").trim() || undefined}
                onClick={p.onOpen ? (e) => !isControl(e.target) && p.onOpen?.(r) : undefined}
              >
                {selecting && (
                  <td class="sel">
                    <input
                      type="checkbox"
                      aria-label={`Select ${p.rowLabel?.(r) ?? String(key)}`}
                      checked={p.selected?.has(key) ?? false}
                      onChange={(e) => p.onSelect?.(r, e.currentTarget.checked)}
                    />
                  </td>
                )}
                {p.columns.map((c) => (
                  <td key={c.id} class={[c.numeric ? "num" : "", c.nowrap ? "nowrap" : ""].join(" ").trim() || undefined}>
                    {c.render(r)}
                  </td>
                ))}
              </tr>
            );
          })}
          {p.status !== "ready" || rows.length === 0 ? (
            <tr class="state-row">
              <td colSpan={width}>
                {p.status === "error" ? (
                  <ErrorState message={p.error ?? "Could not load the list."} {...(p.onRetry ? { onRetry: p.onRetry } : {})} />
                ) : p.status === "loading" ? (
                  rows.length === 0 ? (
                    <Loading />
                  ) : null
                ) : (
                  <Empty>{p.emptyText}</Empty>
                )}
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}

/** What {@link Pager} takes. */
export interface PagerProps {
  page: number;
  pageSize: number;
  total: number | undefined;
  onPage: (page: number) => void;
  label: string;
}

/** "1–50 of 10,000" with previous / next page buttons. */
export function Pager({ page, pageSize, total, onPage, label }: PagerProps) {
  if (total === undefined) return null;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const first = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const last = Math.min(total, page * pageSize);
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <span data-testid="page-range">
        {count(first)}–{count(last)} of {count(total)}
      </span>
      <button type="button" class="btn btn-small" disabled={page <= 1} onClick={() => onPage(page - 1)} aria-label="Previous page">
        ‹ Previous
      </button>
      <span aria-current="page">
        Page {count(page)} of {count(pages)}
      </span>
      <button type="button" class="btn btn-small" disabled={page >= pages} onClick={() => onPage(page + 1)} aria-label="Next page">
        Next ›
      </button>
    </nav>
  );
}

/** Toolbar above a list: title actions on the left, filters on the right. */
export function Toolbar({ children }: { children: ComponentChildren }) {
  return <div class="toolbar">{children}</div>;
}
