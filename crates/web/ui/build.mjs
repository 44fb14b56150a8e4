// Builds the islands and vendors htmx into ../assets, then writes ../assets/STAMP (sha256 of every input
// and output). `cargo test -p tenon-web` recomputes the stamp without Node and fails, naming this command,
// when a source changed without a rebuild or a built file was edited by hand. Run: npm --prefix crates/web/ui run build
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const crate = join(here, "..");
const assets = join(crate, "assets");

await build({
  entryPoints: [join(here, "src/main.ts")],
  outfile: join(assets, "islands.js"),
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});

// The public form page loads only this small script (the proof-of-work solver), not the islands.
await build({
  entryPoints: [join(here, "src/form.ts")],
  outfile: join(assets, "form.js"),
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});

mkdirSync(join(assets, "vendor"), { recursive: true });
copyFileSync(join(here, "node_modules/htmx.org/dist/htmx.min.js"), join(assets, "vendor/htmx.min.js"));
// uPlot: loaded only by dashboard pages (charts), verbatim from its package.
copyFileSync(join(here, "node_modules/uplot/dist/uPlot.iife.min.js"), join(assets, "vendor/uplot.min.js"));
copyFileSync(join(here, "node_modules/uplot/dist/uPlot.min.css"), join(assets, "vendor/uplot.min.css"));

function files(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? files(path) : [path];
    });
}
const sha = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");
const inputs = [join(here, "build.mjs"), join(here, "package-lock.json"), ...files(join(here, "src"))];
const outputs = [
  join(assets, "islands.js"),
  join(assets, "form.js"),
  join(assets, "vendor/htmx.min.js"),
  join(assets, "vendor/uplot.min.js"),
  join(assets, "vendor/uplot.min.css"),
];
const lines = [
  "# Written by `npm --prefix crates/web/ui run build`; checked by `cargo test -p tenon-web`. Do not edit.",
  ...inputs.map((path) => `input ${relative(crate, path)} ${sha(path)}`),
  ...outputs.map((path) => `output ${relative(crate, path)} ${sha(path)}`),
];
writeFileSync(join(assets, "STAMP"), lines.join("\n") + "\n");
