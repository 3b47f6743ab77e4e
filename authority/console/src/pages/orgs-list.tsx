/**
 * Organizations list (seed 001 items a–k): Create Organization, Export (CSV), Filter by status
 * with the "Filtered by" chip, columns Name / Status / Users / Backup agents, expand and collapse
 * child organizations, a row opens the details. Active organizations show as a tree under the
 * caller's organization (children paged on the server); deactivated ones and searches as a list.
 */
import { useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";
import { getOrg, listOrgs, myOrg } from "../api/orgs.js";
import { access, currentUser, offered } from "../api/session.js";
import type { Org, Page } from "../api/types.js";
import { download } from "../download.js";
import { count } from "../format.js";
import { href, intParam, navigate, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { FilterChips, StatusFilter } from "../ui/filters.js";
import { type Column, DataTable, Pager, type Sort, Toolbar } from "../ui/table.js";
import { notify } from "../ui/status.js";
import { CreateOrgDialog } from "./org-create.js";

/** Rows per page of the list and of the top level's children. */
export const ORG_PAGE_SIZE = 50;
const CHILD_PAGE_SIZE = 50;

type Row =
  | { kind: "org"; org: Org; depth: number; expanded: boolean }
  | { kind: "more"; parent: Org; depth: number; shown: number; total: number }
  | { kind: "wait"; parent: Org; depth: number; error: string | null };

interface Children {
  items: Org[];
  total: number;
  loading: boolean;
  error: string | null;
}

/** The list screen. */
export function OrgsList() {
  const status = param("status") === "deactivated" ? "deactivated" : "active";
  const q = param("q");
  const sort: Sort | null = param("sort") ? { key: param("sort"), dir: param("dir") === "desc" ? "desc" : "asc" } : null;
  const page = intParam("page", 1);
  const parentId = intParam("parent", 0);
  const tree = status === "active" && !q;
  const [creating, setCreating] = useState(false);
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(new Set());
  const [children, setChildren] = useState<ReadonlyMap<number, Children>>(new Map());
  const sortQ = { srtKey: sort?.key, srtDir: sort?.dir };

  // The tree's root is the `parent` of the URL, else the caller's own org (the session's user
  // says which), so the root and the page of its children are requested at the same time.
  const rootId = parentId || currentUser.value?.orgId;
  const root = useAsync((s) => (parentId ? getOrg(parentId, s) : myOrg(s)), [parentId]);
  const childrenOf = root.data?.orgId ?? rootId;
  const list = useAsync(
    (s): Promise<Page<Org>> =>
      tree
        ? childrenOf !== undefined
          ? listOrgs({ active: true, parentOrgId: childrenOf, pgNum: page, pgSize: ORG_PAGE_SIZE, ...sortQ }, s)
          : new Promise<Page<Org>>(() => {})
        : listOrgs({ active: status === "active", q: q || undefined, pgNum: page, pgSize: ORG_PAGE_SIZE, ...sortQ }, s),
    [tree, childrenOf, status, q, page, sort?.key, sort?.dir],
  );

  const loadChildren = async (o: Org, more: boolean) => {
    const prev = children.get(o.orgId);
    const pgNum = more && prev ? Math.floor(prev.items.length / CHILD_PAGE_SIZE) + 1 : 1;
    setChildren((m) => new Map(m).set(o.orgId, { items: more && prev ? prev.items : [], total: prev?.total ?? 0, loading: true, error: null }));
    try {
      const r = await listOrgs({ active: true, parentOrgId: o.orgId, pgNum, pgSize: CHILD_PAGE_SIZE, ...sortQ });
      setChildren((m) =>
        new Map(m).set(o.orgId, { items: [...(more && prev ? prev.items : []), ...r.items], total: r.totalCount, loading: false, error: null }),
      );
    } catch (e) {
      setChildren((m) => new Map(m).set(o.orgId, { items: prev?.items ?? [], total: prev?.total ?? 0, loading: false, error: errorMessage(e) }));
    }
  };
  const isOpen = (o: Org, depth: number) => (depth === 0 ? !collapsed.has(o.orgId) : children.has(o.orgId) && !collapsed.has(o.orgId));
  const toggle = (o: Org, depth: number) => {
    const open = isOpen(o, depth);
    setCollapsed((c) => {
      const n = new Set(c);
      if (open) n.add(o.orgId);
      else n.delete(o.orgId);
      return n;
    });
    if (!open && depth > 0 && !children.has(o.orgId)) void loadChildren(o, false);
  };

  const rows: Row[] = [];
  const addNested = (o: Org, depth: number) => {
    const c = children.get(o.orgId);
    if (!c) return;
    for (const k of c.items) {
      const open = isOpen(k, depth);
      rows.push({ kind: "org", org: k, depth, expanded: open });
      if (open) addNested(k, depth + 1);
    }
    if (c.loading || c.error) rows.push({ kind: "wait", parent: o, depth, error: c.error });
    else if (c.items.length < c.total) rows.push({ kind: "more", parent: o, depth, shown: c.items.length, total: c.total });
  };
  if (tree && root.data) {
    const open = isOpen(root.data, 0);
    rows.push({ kind: "org", org: root.data, depth: 0, expanded: open });
    if (open)
      for (const k of list.data?.items ?? []) {
        const kOpen = isOpen(k, 1);
        rows.push({ kind: "org", org: k, depth: 1, expanded: kOpen });
        if (kOpen) addNested(k, 2);
      }
  } else if (!tree) for (const o of list.data?.items ?? []) rows.push({ kind: "org", org: o, depth: 0, expanded: false });

  const hasChildren = (o: Org, depth: number) => (o.orgCount ?? 0) > 0 || (depth === 0 && tree);
  const columns: Column<Row>[] = [
    {
      id: "name",
      label: "Name",
      sortKey: "orgName",
      render: (r) => {
        if (r.kind !== "org") return null;
        const o = r.org;
        return (
          <span class="tree-cell" style={{ paddingLeft: `${r.depth * 1.5}rem` }}>
            {tree && hasChildren(o, r.depth) ? (
              <button
                type="button"
                class="twisty"
                aria-expanded={r.expanded}
                aria-label={`${r.expanded ? "Collapse" : "Expand"} ${o.orgName}`}
                data-testid={`toggle-${o.orgId}`}
                onClick={() => toggle(o, r.depth)}
              >
                <span aria-hidden="true">{r.expanded ? "▾" : "▸"}</span>
              </button>
            ) : (
              tree && <span class="twisty-space" aria-hidden="true" />
            )}
            <a href={href(`/orgs/${o.orgId}`)}>{o.orgName}</a>
            {!tree && o.parentOrgName && <span class="muted"> in {o.parentOrgName}</span>}
          </span>
        );
      },
    },
    { id: "status", label: "Status", sortKey: "status", render: (r) => r.kind === "org" && <StatusBadge active={r.org.active} /> },
    {
      id: "users",
      label: "Users",
      sortKey: "userCount",
      numeric: true,
      render: (r) =>
        r.kind === "org" && (
          <a href={href("/users", { orgUid: r.org.orgUid, org: r.org.orgName })} aria-label={`${count(r.org.userCount)} users in ${r.org.orgName}`}>
            {count(r.org.userCount)}
          </a>
        ),
    },
    {
      id: "agents",
      label: "Backup agents",
      sortKey: "computerCount",
      numeric: true,
      render: (r) =>
        r.kind === "org" && (
          <a href={href("/devices", { orgUid: r.org.orgUid, org: r.org.orgName })} aria-label={`${count(r.org.computerCount)} devices in ${r.org.orgName}`}>
            {count(r.org.computerCount)}
          </a>
        ),
    },
    {
      id: "open",
      label: "Details",
      render: (r) =>
        r.kind === "org" && (
          <a class="chevron" href={href(`/orgs/${r.org.orgId}`)} aria-label={`View details of ${r.org.orgName}`}>
            ›
          </a>
        ),
    },
  ];
  const status$ = tree && root.status !== "ready" ? root : list;
  return (
    <section aria-labelledby="orgs-title">
      <h1 id="orgs-title">Organizations</h1>
      <Toolbar>
        {offered(access.value, "orgUpdate") && (
          <button type="button" class="btn btn-primary" onClick={() => setCreating(true)} data-testid="create-org">
            Create Organization
          </button>
        )}
        <button
          type="button"
          class="btn"
          data-testid="export-orgs"
          onClick={() => {
            download("/api/v1/orgs/export", "organizations.csv", { query: { active: status === "active", q: q || undefined } }).then(
              (n) => notify(`Exported ${n}.`),
              (e: unknown) => notify(`Export failed: ${errorMessage(e)}`, "error"),
            );
          }}
        >
          Export
        </button>
        <StatusFilter value={status} onApply={(v) => setQuery({ status: v === "active" ? null : v, page: null })} />
        <SearchBox value={q} label="Search organizations" />
      </Toolbar>
      <FilterChips
        chips={[
          status === "deactivated" ? { label: "Status: Deactivated", clear: () => setQuery({ status: null, page: null }) } : null,
          q ? { label: `Name contains “${q}”`, clear: () => setQuery({ q: null, page: null }) } : null,
          parentId && root.data ? { label: `Under ${root.data.orgName}`, clear: () => setQuery({ parent: null, page: null }) } : null,
        ]}
      />
      <DataTable<Row>
        caption={tree ? "Organizations, as a tree of parent and child organizations" : `${status === "active" ? "Active" : "Deactivated"} organizations`}
        columns={columns}
        rows={tree && root.status !== "ready" ? undefined : rows}
        status={status$.status}
        error={status$.error}
        onRetry={() => (root.status === "error" ? root.reload() : list.reload())}
        rowKey={(r) => (r.kind === "org" ? r.org.orgId : `${r.kind}-${r.parent.orgId}`)}
        testId={(r) => (r.kind === "org" ? `org-row-${r.org.orgId}` : `org-${r.kind}-${r.parent.orgId}`)}
        emptyText={status === "deactivated" ? "No deactivated organizations." : q ? "No organization matches." : "No organizations."}
        sort={sort}
        onSort={(k) => setQuery({ sort: k, dir: sort?.key === k && sort.dir === "asc" ? "desc" : "asc", page: null })}
        onOpen={(r) => r.kind === "org" && navigate(`/orgs/${r.org.orgId}`)}
        rowClass={(r) => (r.kind === "org" && !r.org.active ? "inactive" : "")}
        fullRow={(r) =>
          r.kind === "more" ? (
            <span style={{ paddingLeft: `${r.depth * 1.5}rem` }}>
              <button type="button" class="btn btn-small btn-link" onClick={() => void loadChildren(r.parent, true)}>
                Show more children of {r.parent.orgName} ({count(r.shown)} of {count(r.total)})
              </button>
            </span>
          ) : r.kind === "wait" ? (
            <span style={{ paddingLeft: `${r.depth * 1.5}rem` }} role={r.error ? "alert" : "status"}>
              {r.error ? `Could not load the children of ${r.parent.orgName}: ${r.error}` : "Loading…"}
            </span>
          ) : null
        }
      />
      <Pager
        page={page}
        pageSize={ORG_PAGE_SIZE}
        total={tree && list.data?.totalCount === 0 ? undefined : list.data?.totalCount}
        onPage={(n) => setQuery({ page: n })}
        label={tree ? "Child organizations" : "Organizations"}
      />
      {creating && (
        <CreateOrgDialog
          defaultParent={root.data ?? null}
          onClose={() => setCreating(false)}
          onCreated={(o) => {
            setChildren(new Map());
            void list.reload();
            void root.reload();
            if (o.parentOrgId !== root.data?.orgId) notify("The new organization is listed under its parent; expand the parent to see it.");
          }}
        />
      )}
    </section>
  );
}

/** "Active" / "Deactivated" as a badge. */
export function StatusBadge({ active, label }: { active: boolean; label?: string }) {
  return <span class={active ? "badge badge-ok" : "badge badge-off"}>{label ?? (active ? "Active" : "Deactivated")}</span>;
}

/** A search box whose value lives in the URL (`?q=`), applied on Enter or after typing stops. */
export function SearchBox({ value, label }: { value: string; label: string }) {
  const [text, setText] = useState(value);
  return (
    <form
      class="search"
      aria-label={label}
      onSubmit={(e) => {
        e.preventDefault();
        setQuery({ q: text.trim() || null, page: null });
      }}
    >
      <label for="list-search" class="sr-only">
        {label}
      </label>
      <input id="list-search" type="search" placeholder={label} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <button type="submit" class="btn">
        Search
      </button>
    </form>
  );
}
