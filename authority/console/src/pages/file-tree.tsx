/** The backup's file tree for a restore: lazy directories, a checkbox per file and folder. */
import { useEffect, useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";
import { type RestoreSession, type Selection, type TreeNode, treeNodes } from "../api/restore.js";
import { bytes, dateTime } from "../format.js";
import { FileIcon, FolderIcon } from "../ui/icons.js";

interface Branch {
  loading: boolean;
  error: string | null;
  nodes: TreeNode[];
}

/** What the tree needs. */
export interface FileTreeProps {
  session: RestoreSession;
  backupSetId: string;
  timestamp: number | null;
  showDeleted: boolean;
  selected: ReadonlyMap<string, Selection>;
  onToggle: (s: Selection, on: boolean) => void;
}

const isDir = (n: TreeNode) => n.type.toLowerCase() === "directory";

/** The tree, starting at the roots. */
export function FileTree(p: FileTreeProps) {
  const [branches, setBranches] = useState<ReadonlyMap<string, Branch>>(new Map());
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const load = async (key: string, fileId: string | null) => {
    setBranches((m) => new Map(m).set(key, { loading: true, error: null, nodes: [] }));
    try {
      const nodes = await treeNodes(p.session, p.backupSetId, fileId, p.timestamp, p.showDeleted);
      nodes.sort((a, b) => Number(isDir(b)) - Number(isDir(a)) || a.filename.localeCompare(b.filename));
      setBranches((m) => new Map(m).set(key, { loading: false, error: null, nodes }));
      // A single root ("/" on POSIX) opens by itself.
      const only = nodes[0];
      if (key === "" && nodes.length === 1 && only && isDir(only)) {
        setOpen(new Set([only.id]));
        void load(only.id, only.id);
      }
    } catch (e) {
      setBranches((m) => new Map(m).set(key, { loading: false, error: errorMessage(e), nodes: [] }));
    }
  };
  useEffect(() => {
    setBranches(new Map());
    setOpen(new Set());
    void load("", null);
  }, [p.session.sessionId, p.backupSetId, p.timestamp, p.showDeleted]);
  const toggleOpen = (n: TreeNode) => {
    const s = new Set(open);
    if (s.has(n.id)) s.delete(n.id);
    else {
      s.add(n.id);
      if (!branches.has(n.id)) void load(n.id, n.id);
    }
    setOpen(s);
  };
  /** A node is covered when it or an ancestor is selected. */
  const covered = (path: string) => [...p.selected.keys()].some((s) => s === path || path.startsWith(s.endsWith("/") ? s : `${s}/`));
  const render = (key: string): preact.JSX.Element => {
    const b = branches.get(key);
    if (!b || b.loading) return <li class="muted">Loading…</li>;
    if (b.error)
      return (
        <li class="form-error" role="alert">
          {b.error}
        </li>
      );
    if (b.nodes.length === 0) return <li class="muted">Empty folder</li>;
    return (
      <>
        {b.nodes.map((n) => {
          const dir = isDir(n);
          const expanded = open.has(n.id);
          const inherited = !p.selected.has(n.path) && covered(n.path);
          return (
            <li key={n.id} data-testid={`file-node-${n.path}`}>
              <span class="file-row">
                {dir ? (
                  <button
                    type="button"
                    class="twisty"
                    aria-expanded={expanded}
                    aria-label={`${expanded ? "Collapse" : "Expand"} ${n.path}`}
                    onClick={() => toggleOpen(n)}
                  >
                    <span aria-hidden="true">{expanded ? "▾" : "▸"}</span>
                  </button>
                ) : (
                  <span class="twisty-space" aria-hidden="true" />
                )}
                <input
                  type="checkbox"
                  aria-label={`Select ${n.path}`}
                  checked={p.selected.has(n.path) || inherited}
                  disabled={inherited}
                  onChange={(e) => p.onToggle({ path: n.path, fileType: dir ? "DIRECTORY" : "FILE" }, e.currentTarget.checked)}
                />
                {dir ? <FolderIcon /> : <FileIcon />}
                <span class={n.deleted ? "muted" : undefined}>
                  {n.filename || n.path}
                  {n.deleted && " (deleted)"}
                </span>
                {!dir && n.size !== undefined && <span class="muted">{bytes(n.size)}</span>}
                {n.lastModified && <span class="muted">{dateTime(n.lastModified)}</span>}
              </span>
              {dir && expanded && <ul>{render(n.id)}</ul>}
            </li>
          );
        })}
      </>
    );
  };
  return (
    <ul class="file-tree card" aria-label="Files in the backup" data-testid="file-tree">
      {render("")}
    </ul>
  );
}
