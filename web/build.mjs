// Bundles the web app into ../collab/webapp/dist, which is committed and shipped inside the
// Python package (a fresh machine serves the app without Node). The output is deterministic:
// `scripts/test` rebuilds it and fails when the committed copy differs from these sources.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const out = new URL("../collab/webapp/dist/", import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  write: false,
  outdir: out,
  logLevel: "warning",
});

// Content-hashed names: the server caches them for a year; index.html is never cached.
const names = {};
for (const file of result.outputFiles) {
  const ext = file.path.endsWith(".css") ? "css" : "js";
  const hash = createHash("sha256").update(file.contents).digest("hex").slice(0, 12);
  const name = `app-${hash}.${ext}`;
  writeFileSync(out + name, file.contents);
  names[ext] = name;
}
const template = readFileSync(new URL("index.html", import.meta.url), "utf8");
const page = template
  .replace("%APP_JS%", `/assets/${names.js}`)
  .replace("%APP_CSS%", names.css ? `<link rel="stylesheet" href="/assets/${names.css}">` : "");
writeFileSync(out + "index.html", page);

for (const [ext, name] of Object.entries(names)) {
  const bytes = readFileSync(out + name);
  console.log(`${name}: ${(bytes.length / 1024).toFixed(1)} KiB, ${(gzipSync(bytes).length / 1024).toFixed(1)} KiB gzip`);
}
