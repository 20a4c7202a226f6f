// Renders an AsyncAPI document to one self-contained HTML page with the official
// AsyncAPI generator and HTML template (singleFile: scripts and styles inlined, no CDN).
// Usage: node tools/render_asyncapi.mjs spec/asyncapi.yaml OUT_DIR   (writes OUT_DIR/index.html)
// tools/build_docs.py calls it; `nox -s docs` runs that.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Generator from "@asyncapi/generator";

const [specArg, outArg] = process.argv.slice(2);
if (!specArg || !outArg) {
  console.error("usage: node tools/render_asyncapi.mjs SPEC OUT_DIR");
  process.exit(2);
}
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(outArg);
mkdirSync(out, { recursive: true });
// The template installed from package-lock.json, used in place (never downloaded).
const template = resolve(root, "node_modules", "@asyncapi", "html-template");
const generator = new Generator(template, out, {
  forceWrite: true,
  install: false,
  templateParams: { singleFile: "true", outFilename: "index.html" },
});
await generator.generateFromFile(resolve(specArg));
