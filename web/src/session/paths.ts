// File paths as the server accepts them (collab/documents/paths.py), checked before asking,
// and their REST form.

const MAX_PATH = 512;

// The normalised path, or an error message saying what is wrong.
export function checkPath(raw: string): { path: string } | { error: string } {
  const trimmed = raw.trim().replace(/^\/+|\/+$/g, "");
  if (!trimmed || trimmed.length > MAX_PATH) return { error: `A file path is 1 to ${MAX_PATH} characters.` };
  const segments = trimmed.split("/");
  // eslint-disable-next-line no-control-regex
  const bad = segments.some((s) => s === "" || s === "." || s === ".." || /[\x00-\x1f\\]/.test(s));
  if (bad) return { error: "Use a relative path like src/app.py, without '.', '..' or '\\'." };
  return { path: segments.join("/") };
}

export function fileUrl(sessionId: string, path: string): string {
  return `/api/sessions/${encodeURIComponent(sessionId)}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
