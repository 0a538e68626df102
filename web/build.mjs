// Bundles the web app into ../collab/webapp/dist, which is committed and shipped inside the
// Python package (a fresh machine serves the app without Node). The output is deterministic:
// `scripts/test` rebuilds it and fails when the committed copy differs from these sources.
// Code splitting: the IDE (editor, Yjs, Socket.IO, terminal) is a chunk loaded only when a
// session is opened. Every file is named by esbuild's content hash and served from /assets/.
import { build } from "esbuild";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { gzipSync } from "node:zlib";

const out = new URL("../collab/webapp/dist/", import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  splitting: true,
  minify: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "asset-[hash]",
  publicPath: "/assets/",
  metafile: true,
  outdir: out,
  logLevel: "warning",
});

// The page names the entry's script and every stylesheet: esbuild does not load a lazy
// chunk's CSS by itself, and the editor's few KiB of styles are cheaper up front than late.
const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint)[0];
const styles = Object.keys(result.metafile.outputs)
  .filter((name) => name.endsWith(".css"))
  .map((name) => `<link rel="stylesheet" href="/assets/${basename(name)}">`)
  .sort()
  .join("\n");
const template = readFileSync(new URL("index.html", import.meta.url), "utf8");
writeFileSync(out + "index.html", template.replace("%APP_JS%", `/assets/${basename(entry)}`).replace("%APP_CSS%", styles));

// Precompressed siblings: aiohttp's FileResponse sends `name.gz` to browsers that accept
// gzip (zlib writes no timestamp, so the files are as deterministic as their sources).
let total = 0;
let totalGzip = 0;
for (const name of readdirSync(out).sort()) {
  if (name === "index.html") continue;
  const bytes = readFileSync(out + name);
  const compressed = gzipSync(bytes, { level: 9 });
  writeFileSync(out + name + ".gz", compressed);
  const gzip = compressed.length;
  total += bytes.length;
  totalGzip += gzip;
  console.log(`${name}: ${(bytes.length / 1024).toFixed(1)} KiB, ${(gzip / 1024).toFixed(1)} KiB gzip`);
}
console.log(`all: ${(total / 1024).toFixed(1)} KiB, ${(totalGzip / 1024).toFixed(1)} KiB gzip`);
