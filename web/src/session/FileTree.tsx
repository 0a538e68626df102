// The session's files as a tree: open one, and (editors and owners) create, rename, delete.
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { baseName } from "./paths";
import type { FileEntry, SessionRuntime } from "./runtime";

interface Row {
  kind: "folder" | "file";
  path: string; // the folder's or the file's full path
  depth: number;
  entry?: FileEntry;
}

// Files sorted by path, with a row for each folder the first time it appears.
function rows(files: FileEntry[]): Row[] {
  const out: Row[] = [];
  const seen = new Set<string>();
  for (const entry of files) {
    const parts = entry.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join("/");
      if (!seen.has(folder)) {
        seen.add(folder);
        out.push({ kind: "folder", path: folder, depth: i - 1 });
      }
    }
    out.push({ kind: "file", path: entry.path, depth: parts.length - 1, entry });
  }
  return out;
}

function message(error: unknown): string {
  return error instanceof ApiError ? error.message : "Something went wrong; try again.";
}

export function FileTree({ runtime, canEdit }: { runtime: SessionRuntime; canEdit: boolean }) {
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const create = (name: string) => {
    const problem = runtime.createFile(name);
    if (problem) setError(problem);
    else {
      setCreating(false);
      setError(null);
    }
  };
  const rename = async (from: string, to: string) => {
    try {
      await runtime.renameFile(from, to);
      setRenaming(null);
      setError(null);
    } catch (e) {
      setError(message(e));
    }
  };
  const remove = async (path: string) => {
    try {
      await runtime.deleteFile(path);
      setDeleting(null);
      setError(null);
    } catch (e) {
      setError(message(e));
    }
  };

  return (
    <nav class="file-tree" data-testid="file-tree" aria-label="Files">
      <div class="file-tree-head">
        <span>Files</span>
        {canEdit && (
          <button type="button" class="icon-button" data-testid="new-file" title="New file" onClick={() => { setCreating(true); setError(null); }}>
            +
          </button>
        )}
      </div>
      {creating && (
        <NameForm
          initial=""
          placeholder="path/to/file.py"
          testId="new-file-input"
          onSubmit={create}
          onCancel={() => { setCreating(false); setError(null); }}
        />
      )}
      {error && <p class="file-tree-error" data-testid="file-error" role="alert">{error}</p>}
      <ul>
        {rows(runtime.files).map((row) =>
          row.kind === "folder" ? (
            <li key={`d:${row.path}`} class="tree-folder" style={{ paddingLeft: `${8 + row.depth * 12}px` }}>
              {baseName(row.path)}/
            </li>
          ) : renaming === row.path ? (
            <li key={`f:${row.path}`} style={{ paddingLeft: `${row.depth * 12}px` }}>
              <NameForm
                initial={row.path}
                placeholder="new/path.py"
                testId="rename-input"
                onSubmit={(to) => void rename(row.path, to)}
                onCancel={() => { setRenaming(null); setError(null); }}
              />
            </li>
          ) : (
            <li
              key={`f:${row.path}`}
              class={`tree-file${runtime.active === row.path ? " active" : ""}${row.entry?.pending ? " pending" : ""}`}
              style={{ paddingLeft: `${8 + row.depth * 12}px` }}
            >
              <button type="button" class="tree-open" data-testid="file" data-path={row.path} title={row.path} onClick={() => runtime.openFile(row.path)}>
                {baseName(row.path)}
              </button>
              {deleting === row.path ? (
                <span class="tree-confirm">
                  <button type="button" class="danger" data-testid="confirm-delete" onClick={() => void remove(row.path)}>Delete</button>
                  <button type="button" onClick={() => setDeleting(null)}>Keep</button>
                </span>
              ) : (
                canEdit && (
                  <span class="tree-actions">
                    <button type="button" class="icon-button" data-testid="rename-file" title={`Rename ${row.path}`} onClick={() => { setRenaming(row.path); setError(null); }}>✎</button>
                    <button type="button" class="icon-button" data-testid="delete-file" title={`Delete ${row.path}`} onClick={() => { setDeleting(row.path); setError(null); }}>×</button>
                  </span>
                )
              )}
            </li>
          ),
        )}
      </ul>
      {runtime.files.length === 0 && !creating && (
        <p class="file-tree-empty">{canEdit ? "No files yet. Create one with +." : "No files yet."}</p>
      )}
    </nav>
  );
}

function NameForm(props: { initial: string; placeholder: string; testId: string; onSubmit: (value: string) => void; onCancel: () => void }) {
  const [value, setValue] = useState(props.initial);
  return (
    <form
      class="name-form"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(value);
      }}
    >
      <input
        name="path"
        data-testid={props.testId}
        value={value}
        placeholder={props.placeholder}
        autoFocus
        onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => e.key === "Escape" && props.onCancel()}
      />
    </form>
  );
}
