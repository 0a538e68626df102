// Copies Redoc's standalone bundle (from npm, pinned in package-lock.json) into
// ../../collab/webapp/docs, committed and shipped inside the Python package: `/api/docs`
// needs no CDN and no Node at run time. `scripts/test` reruns this and fails when the
// committed copy differs. A .gz sibling is written for browsers that take gzip.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const out = new URL("../../collab/webapp/docs/", import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const bundle = new URL("node_modules/redoc/bundles/", import.meta.url).pathname;
for (const name of ["redoc.standalone.js", "redoc.standalone.js.LICENSE.txt"]) {
  copyFileSync(bundle + name, out + name);
}
const script = readFileSync(out + "redoc.standalone.js");
const compressed = gzipSync(script, { level: 9 });
writeFileSync(out + "redoc.standalone.js.gz", compressed);
console.log(`redoc.standalone.js: ${(script.length / 1024).toFixed(1)} KiB, ${(compressed.length / 1024).toFixed(1)} KiB gzip`);
