// Builds the map page into dist/ (or the directory given as the first
// argument): one JS bundle, one CSS bundle, the page and the Natural Earth
// basemap. The output is deterministic, committed, and embedded into the
// keelson binary by web.go; `go test ./web` checks it matches a fresh build.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const out = process.argv[2] || "dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await esbuild.build({
  entryPoints: { app: "src/main.js" },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  loader: { ".png": "dataurl" },
  legalComments: "linked",
  outdir: out,
  logLevel: "warning",
});
copyFileSync("src/index.html", join(out, "index.html"));
// Natural Earth 1:50m admin-0 countries (public domain) as TopoJSON, from the
// world-atlas package: land and borders, no tile server needed at sea.
copyFileSync("node_modules/world-atlas/countries-50m.json", join(out, "countries-50m.json"));
