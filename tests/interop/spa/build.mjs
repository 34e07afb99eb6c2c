// Bundle the SPA: `node build.mjs OUTDIR` writes OUTDIR/app.js (esbuild's JS API, which
// runs the platform binary npm installed from the lock file as @esbuild/<platform>).
import { build } from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2];
if (!outdir) {
  console.error("usage: node build.mjs OUTDIR");
  process.exit(2);
}
await build({
  entryPoints: [path.join(here, "src", "app.js")],
  bundle: true,
  format: "esm",
  target: "chrome120",
  outfile: path.join(outdir, "app.js"),
  logLevel: "warning",
});
