// Validates spec/asyncapi.yaml with the official AsyncAPI tools:
//   1. against the official AsyncAPI 3.0.0 JSON Schema from @asyncapi/specs (Ajv, draft-07);
//   2. with @asyncapi/parser (which also resolves the external $refs to spec/common.yaml),
//      failing on any diagnostic of severity error or warning.
// Usage: node tools/asyncapi_check.mjs [path]   (prints one JSON report; exit 1 on problems)
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import specs from "@asyncapi/specs";
import { Parser, fromFile } from "@asyncapi/parser";
import YAML from "yaml";

const path = resolve(process.argv[2] ?? "spec/asyncapi.yaml");
const doc = YAML.parse(readFileSync(path, "utf8"));
const report = { path, asyncapi: doc.asyncapi, schemaErrors: [], diagnostics: [] };

const official = specs.schemas[doc.asyncapi];
if (!official) {
  report.schemaErrors.push({ message: `no official schema for asyncapi ${doc.asyncapi}` });
} else {
  // The official schema bundles the draft-07 meta-schema itself, so Ajv must not add its own copy.
  const ajv = new Ajv({ allErrors: true, strict: false, meta: false, validateSchema: false });
  addFormats(ajv);
  const validate = ajv.compile(official);
  if (!validate(doc)) {
    report.schemaErrors = validate.errors.map((e) => ({
      path: e.instancePath,
      message: e.message,
      params: e.params,
    }));
  }
}

const parser = new Parser();
const { diagnostics } = await fromFile(parser, path).parse();
const names = ["error", "warning", "information", "hint"];
report.diagnostics = diagnostics.map((d) => ({
  code: d.code,
  severity: names[d.severity] ?? String(d.severity),
  path: d.path.join("/"),
  message: d.message,
}));
const bad = report.diagnostics.filter((d) => d.severity === "error" || d.severity === "warning");
report.ok = report.schemaErrors.length === 0 && bad.length === 0;
console.log(JSON.stringify(report, null, 2));
process.exit(report.ok ? 0 : 1);
