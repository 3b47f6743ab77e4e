/** Users list: filter by status and organization, search, sort, server paging; a row opens the user. */
import { listUsers } from "../api/users.js";
import type { User } from "../api/types.js";
import { count } from "../format.js";
import { href, navigate, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { FilterChips, StatusFilter } from "../ui/filters.js";
import { listParams, PAGE_SIZE } from "../ui/list-params.js";
import { type Column, DataTable, Pager, Toolbar } from "../ui/table.js";
import { SearchBox, StatusBadge } from "./orgs-list.js";

/** "Ana Diaz" or "—". */
export function fullName(u: Pick<User, "firstName" | "lastName">): string {
  return [u.firstName, u.lastName].filter(Boolean).join(" ") || "—";
}

/** The users screen. */
export function UsersList() {
  const lp = listParams();
  const orgUid = param("orgUid");
  const orgName = param("org");
  const list = useAsync(
    (s) =>
      listUsers(
        {
          active: lp.status === "active",
          orgUid: orgUid || undefined,
          q: lp.q || undefined,
          pgNum: lp.page,
          pgSize: PAGE_SIZE,
          srtKey: lp.srtKey,
          srtDir: lp.srtDir,
        },
        s,
      ),
    [lp.status, orgUid, lp.q, lp.page, lp.srtKey, lp.srtDir],
  );
  const columns: Column<User>[] = [
    { id: "username", label: "Username", sortKey: "username", render: (u) => <a href={href(`/users/${u.userId}`)}>{u.username}</a> },
    { id: "name", label: "Name", sortKey: "lastName", render: fullName },
    { id: "email", label: "Email", sortKey: "email", render: (u) => u.email ?? "—" },
    { id: "org", label: "Organization", sortKey: "orgName", render: (u) => <a href={href(`/orgs/${u.orgId}`)}>{u.orgName}</a> },
    {
      id: "status",
      label: "Status",
      sortKey: "status",
      render: (u) => (
        <>
          <StatusBadge active={u.active} /> {u.blocked && <span class="badge badge-bad">Blocked</span>}
        </>
      ),
    },
    { id: "roles", label: "Roles", render: (u) => (u.roles ?? []).join(", ") || "—" },
    {
      id: "devices",
      label: "Devices",
      numeric: true,
      render: (u) => (
        <a href={href("/devices", { userUid: u.userUid, user: u.username })} aria-label={`Devices of ${u.username}`}>
          {u.computerCount === undefined ? "view" : count(u.computerCount)}
        </a>
      ),
    },
  ];
  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      <Toolbar>
        <StatusFilter value={lp.status} onApply={lp.setStatus} />
        <SearchBox value={lp.q} label="Search users" />
      </Toolbar>
      <FilterChips
        chips={[
          lp.status === "deactivated" && { label: "Status: Deactivated", clear: () => lp.setStatus("active") },
          orgUid && { label: `Organization: ${orgName || orgUid}`, clear: () => setQuery({ orgUid: null, org: null, page: null }) },
          lp.q && { label: `Contains “${lp.q}”`, clear: () => setQuery({ q: null, page: null }) },
        ]}
      />
      <DataTable<User>
        caption={`${lp.status === "active" ? "Active" : "Deactivated"} users${orgName ? ` of ${orgName}` : ""}`}
        columns={columns}
        rows={list.data?.items}
        status={list.status}
        error={list.error}
        onRetry={list.reload}
        rowKey={(u) => u.userId}
        testId={(u) => `user-row-${u.userId}`}
        emptyText={lp.q ? "No user matches." : lp.status === "deactivated" ? "No deactivated users." : "No users."}
        sort={lp.sort}
        onSort={lp.onSort}
        onOpen={(u) => navigate(`/users/${u.userId}`)}
        rowClass={(u) => (u.active ? "" : "inactive")}
      />
      <Pager page={lp.page} pageSize={PAGE_SIZE} total={list.data?.totalCount} onPage={lp.onPage} label="Users" />
    </section>
  );
}
