// Offline validation of deploy/: renders every kustomization with `kubectl kustomize` and checks each object
// against the JSON schemas of its kind (Kubernetes 1.3x core and apps, KEDA, Prometheus operator) shipped by the
// kubernetes-models packages, and rejects fields its kind does not have (read from the same packages' type
// declarations with the TypeScript compiler: the schemas themselves allow unknown fields). No cluster is contacted.
//
//   node deploy/validate/validate.mjs            # render + validate; exit 1 on the first invalid object's report
//   node deploy/validate/validate.mjs --json     # also print {"<kustomization>": [objects...]} on stdout
//   node deploy/validate/validate.mjs --stdin    # validate YAML documents from standard input instead
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The kustomizations deploy/ ships, relative to deploy/. */
export const kustomizations = ["base", "overlays/production", "migrate"];

/** Module of the schema-carrying model class for an apiVersion, or null when none is known. */
function modelModule(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "") return `kubernetes-models/${version}/${kind}`;
  if (group === "keda.sh") return `@kubernetes-models/keda/keda.sh/${version}/${kind}`;
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  return `kubernetes-models/${group}/${version}/${kind}`;
}

/** Type declarations of a model module, in this folder's node_modules. */
const declarationOf = (module) => path.join(path.dirname(fileURLToPath(import.meta.url)), "node_modules", `${module}.d.ts`);

/** Paths of the fields of <value> that <type> does not declare (index signatures accept any key). */
function unknownFields(checker, value, type, where, out) {
  if (value === null || typeof value !== "object") return;
  type = checker.getNonNullableType(type);
  if (type.isUnion()) {
    const objects = type.types.filter((t) => t.flags & ts.TypeFlags.Object);
    if (objects.length !== 1) return;
    type = objects[0];
  }
  if (Array.isArray(value)) {
    const element = checker.getIndexTypeOfType(type, ts.IndexKind.Number);
    if (element) value.forEach((v, i) => unknownFields(checker, v, element, `${where}[${i}]`, out));
    return;
  }
  const anyKey = checker.getIndexTypeOfType(type, ts.IndexKind.String);
  for (const [key, v] of Object.entries(value)) {
    const prop = checker.getPropertyOfType(type, key);
    if (prop) unknownFields(checker, v, checker.getTypeOfSymbol(prop), `${where}.${key}`, out);
    else if (anyKey) unknownFields(checker, v, anyKey, `${where}.${key}`, out);
    else out.push(`${where}.${key}`);
  }
}

/** Unknown-field problems of every object whose kind has type declarations. */
function unknownFieldProblems(sets) {
  const files = new Map();
  for (const objects of Object.values(sets)) {
    for (const o of objects) {
      if (typeof o?.apiVersion === "string" && typeof o?.kind === "string") files.set(declarationOf(modelModule(o.apiVersion, o.kind)), null);
    }
  }
  const existing = [...files.keys()].filter((f) => existsSync(f));
  const program = ts.createProgram(existing, { skipLibCheck: true, types: [], module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
  const checker = program.getTypeChecker();
  const problems = [];
  for (const [name, objects] of Object.entries(sets)) {
    for (const o of objects) {
      const source = typeof o?.kind === "string" ? program.getSourceFile(declarationOf(modelModule(o.apiVersion, o.kind))) : undefined;
      const symbol = source && checker.getSymbolAtLocation(source)?.exports?.get(o.kind);
      if (!symbol) continue;
      const out = [];
      unknownFields(checker, o, checker.getDeclaredTypeOfSymbol(symbol), o.kind, out);
      for (const field of out) problems.push(`${name}: ${o.kind} ${o.metadata?.name ?? "?"}: unknown field ${field}`);
    }
  }
  return problems;
}

function render(dir) {
  const r = spawnSync("kubectl", ["kustomize", path.join(deployDir, dir)], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`cannot run kubectl: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${r.stderr}`);
  return r.stdout;
}

function parse(text, source) {
  const objects = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: YAML error: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null) objects.push(value);
  }
  return objects;
}

/** Problems of one object: an unknown kind, a missing name, or the schema validator's messages. */
async function problemsOf(obj) {
  const id = `${obj?.kind ?? "?"} ${obj?.metadata?.name ?? "?"}`;
  if (typeof obj?.apiVersion !== "string" || typeof obj?.kind !== "string") return [`${id}: apiVersion and kind are required`];
  if (!obj.metadata?.name) return [`${id}: metadata.name is required`];
  let Model;
  try {
    Model = (await import(modelModule(obj.apiVersion, obj.kind)))[obj.kind];
  } catch {
    return [`${id}: no schema for ${obj.apiVersion} ${obj.kind}`];
  }
  if (typeof Model !== "function") return [`${id}: no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    return [`${id} (${obj.apiVersion}): ${e.message}`];
  }
}

async function main(args) {
  const sets = {};
  if (args.includes("--stdin")) {
    sets.stdin = parse(readFileSync(0, "utf8"), "stdin");
  } else {
    for (const k of kustomizations) sets[k] = parse(render(k), k);
  }
  const problems = [];
  let count = 0;
  for (const [name, objects] of Object.entries(sets)) {
    for (const obj of objects) {
      count++;
      for (const p of await problemsOf(obj)) problems.push(`${name}: ${p}`);
    }
  }
  problems.push(...unknownFieldProblems(sets));
  if (args.includes("--json")) process.stdout.write(JSON.stringify(sets) + "\n");
  for (const p of problems) process.stderr.write(`invalid: ${p}\n`);
  process.stderr.write(`${count} objects in ${Object.keys(sets).length} set(s): ${problems.length === 0 ? "all valid" : `${problems.length} invalid`}\n`);
  return problems.length === 0 ? 0 : 1;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`validate: ${e.message}\n`);
  process.exitCode = 2;
}
