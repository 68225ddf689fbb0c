// Offline validation of deploy/: renders every kustomization with `kubectl kustomize` and checks each object
// against the JSON schemas of its kind (Kubernetes 1.3x core and apps, KEDA, Prometheus operator) shipped by the
// kubernetes-models packages. No cluster is contacted.
//
//   node deploy/validate/validate.mjs            # render + validate; exit 1 on the first invalid object's report
//   node deploy/validate/validate.mjs --json     # also print {"<kustomization>": [objects...]} on stdout
//   node deploy/validate/validate.mjs --stdin    # validate YAML documents from standard input instead
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
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
