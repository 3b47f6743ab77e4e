/**
 * The console's shell: the session gate (sign-in screen until signed in), the header with the
 * signed-in user and Sign out, the navigation, and the page for the current route.
 */
import { useEffect } from "preact/hooks";
import { errorMessage, sessionLost } from "./api/client.js";
import { access, type ConsoleAccess, currentUser, enrollOnly, loadSession, offered, signOut } from "./api/session.js";
import { routePage } from "./routes.js";
import { cancelLeave, confirmLeave, location, pendingLeave } from "./router.js";
import { Dialog } from "./ui/dialog.js";
import { ErrorState, Loading, notify, Toasts } from "./ui/status.js";
import { SignIn, TotpEnroll } from "./pages/sign-in.js";

type NavItem = [label: string, to: string, shown?: (a: ConsoleAccess) => boolean];

const NAV: { section: string; items: NavItem[] }[] = [
  {
    section: "Environment",
    items: [
      ["Organizations", "/orgs", (a) => offered(a, "orgs")],
      ["Users", "/users", (a) => offered(a, "users")],
      ["Devices", "/devices", (a) => offered(a, "devices")],
    ],
  },
  {
    section: "Storage",
    items: [
      ["Destinations", "/storage/destinations", (a) => a.storage],
      ["Servers", "/storage/servers", (a) => a.storage],
      ["Store points", "/storage/store-points", (a) => a.storage],
    ],
  },
  {
    section: "Restores",
    items: [
      ["Restore files", "/restore"],
      ["Restore history", "/restore-history"],
      ["Cold storage", "/cold-storage", (a) => offered(a, "coldStorage")],
      ["Legal hold", "/legal-holds", (a) => offered(a, "legalHold")],
    ],
  },
  {
    section: "Settings",
    items: [
      ["Organization", "/settings/organization", (a) => a.systemSettings],
      ["Audit log", "/audit-log", (a) => a.audit],
    ],
  },
];

function Nav() {
  const path = location.value.path;
  const a = access.value;
  // the pages a role cannot use are not offered (their calls would only answer 403)
  const sections = NAV.map((s) => ({ ...s, items: s.items.filter(([, , shown]) => shown === undefined || shown(a)) })).filter((s) => s.items.length > 0);
  return (
    <nav class="nav" aria-label="Main">
      {sections.map((s) => (
        <div key={s.section} class="nav-section">
          <h2 class="nav-title">{s.section}</h2>
          <ul>
            {s.items.map(([label, to]) => {
              const current = path === to || path.startsWith(`${to}/`);
              return (
                <li key={to}>
                  <a href={`#${to}`} aria-current={current ? "page" : undefined} class={current ? "current" : undefined}>
                    {label}
                  </a>
                </li>
              );
            })}
          </ul>
        </div>
      ))}
    </nav>
  );
}

/** The whole console. */
export function App() {
  useEffect(() => {
    loadSession().catch((e: unknown) => {
      currentUser.value = null;
      notify(`Could not reach the authority: ${errorMessage(e)}`, "error");
    });
  }, []);
  const user = currentUser.value;
  if (user === undefined) return <Loading label="Connecting to the authority…" />;
  if (user === null || sessionLost.value) return <SignIn expired={sessionLost.value && user !== null} />;
  if (enrollOnly.value) return <TotpEnroll />;
  return (
    <div class="shell">
      <button type="button" class="skip" onClick={() => document.getElementById("main")?.focus()}>
        Skip to content
      </button>
      <header class="topbar">
        <a class="brand" href="#/orgs">
          Cairn <span>administration console</span>
        </a>
        <div class="who">
          <span data-testid="signed-in-as">{user.username}</span>
          <button
            type="button"
            class="btn btn-small"
            onClick={() => {
              signOut().catch((e: unknown) => notify(errorMessage(e), "error"));
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <Nav />
      <main id="main" class="main" tabIndex={-1}>
        <RouteView />
      </main>
      <Toasts />
      {pendingLeave.value !== null && (
        <Dialog
          title="Leave without saving?"
          testId="leave-dialog"
          onClose={cancelLeave}
          onSubmit={async () => confirmLeave()}
          submitLabel="Discard changes"
          danger
        >
          <p>This page has changes that are not saved. If you leave, they are lost.</p>
        </Dialog>
      )}
    </div>
  );
}

function RouteView() {
  try {
    return routePage(location.value.path);
  } catch (e) {
    return <ErrorState message={errorMessage(e)} />;
  }
}
