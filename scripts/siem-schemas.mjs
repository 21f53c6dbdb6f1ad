#!/usr/bin/env node
// Writes the published SIEM schemas the tests check our exports against, into test/fixtures/siem/:
//   ocsf-<version>-detection_finding.schema.json  per OCSF export given: a draft-07 JSON Schema of
//                                                 OCSF class detection_finding (2004) in that version;
//   ecs-fields.json                               every Elastic Common Schema field: type, normalize;
//   NOTICE.md                                     where they come from (with sha256), their licence,
//                                                 how to remake them.
//
//   node scripts/siem-schemas.mjs OCSF_EXPORT_JSON [OCSF_EXPORT_JSON...] ECS_SOURCE [--out DIR]
//
// Every argument but the last is an OCSF export; the last is the ECS source. --out (default
// test/fixtures/siem) takes the output directory. The version in each file name is the export's
// own `version`; two exports of one version are refused. The OCSF schemas the run does not write
// (the unversioned ocsf-detection_finding.schema.json of old, or versions no longer given) are
// removed from the output directory, so it holds exactly the versions of the last run.
//
// OCSF_EXPORT_JSON is the schema as the OCSF server publishes it compiled: one JSON file whose
// classes and objects already carry the attributes of their `extends` chain and of their profiles,
// typed from the dictionary. Both layouts are read:
//   v1  `/export/schema` (OCSF 1.0.0 - 1.7.0): `types` and `base_event` beside `classes` and
//       `objects`; an attribute names its profile in `profile` (a string or null);
//   v2  `/export/v2/schema` (OCSF 1.8.0): types in `dictionary.types.attributes`, base_event among
//       the classes; an attribute lists its profiles in `profiles`.
// The PyPI package ocsf-json-schema ships these files (ocsf_json_schema/ocsf/<version>.json: v1 up
// to 1.7.0, v2 for 1.8.0). A checkout of github.com/ocsf/ocsf-schema (the uncompiled metaschema) is
// not read, and an export whose class lacks base_event's attributes is refused as uncompiled:
// compile it with the OCSF server or ocsf-lib first. OCSF 1.0.0 has no detection_finding (it came
// in 1.1.0) and is refused.
//
// ECS_SOURCE is one of: generated/ecs/ecs_flat.yml of github.com/elastic/ecs (or that checkout's
// root), or the npm package @elastic/ecs (its root), which carries the same file as a module.
//
// See test/fixtures/siem/NOTICE.md for the exact commands.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLASS = 'detection_finding';
/**
 * Objects first reached deeper than this (the class's own attributes are depth 1) would stay
 * `type: object`. detection_finding reaches all its objects by depth 4 (64 in OCSF 1.1.0, about
 * 75 kB of schema; 127 in 1.8.0, about 165 kB), so none is cut; the cap is there should a later
 * version reach much further.
 */
const MAX_OBJECT_DEPTH = 8;
/** OCSF's scalar base types and the JSON Schema type of each. */
const BASE_TYPES = {
  string_t: { type: 'string' },
  integer_t: { type: 'integer' },
  long_t: { type: 'integer' },
  float_t: { type: 'number' },
  boolean_t: { type: 'boolean' },
  json_t: {},
};

// ---------------------------------------------------------------------------------------------
// OCSF

/** The type definitions of an export: v2 keeps them in the dictionary, v1 beside it. */
function ocsfTypes(exported) {
  const types = exported.dictionary?.types ?? exported.types;
  if (!types) throw new Error('the OCSF export has no type definitions (dictionary.types or types)');
  return types.attributes ?? types;
}

/** The JSON Schema of one OCSF scalar type, following its `type` chain down to a base type. */
function scalarSchema(types, name) {
  const constraints = {};
  const seen = new Set();
  let current = name;
  while (!(current in BASE_TYPES)) {
    if (seen.has(current)) throw new Error(`OCSF type ${name}: its type chain loops at ${current}`);
    seen.add(current);
    const def = types[current];
    if (!def) throw new Error(`OCSF type ${name}: ${current} is not defined in the dictionary`);
    // The most derived type's constraint wins.
    if (def.regex != null && constraints.pattern == null) constraints.pattern = def.regex;
    if (def.max_len != null && constraints.maxLength == null) constraints.maxLength = def.max_len;
    if (Array.isArray(def.range) && constraints.minimum == null) {
      [constraints.minimum, constraints.maximum] = def.range;
    }
    if (!def.type) throw new Error(`OCSF type ${current} has no base type`);
    current = def.type;
  }
  const schema = { ...BASE_TYPES[current], ...constraints };
  // Named for readable errors (a failed ip_t pattern says ip_t, not the pattern).
  if (name !== current) schema['x-ocsf-type'] = name;
  if (schema.type !== 'string') {
    delete schema.pattern;
    delete schema.maxLength;
  }
  if (schema.type !== 'integer' && schema.type !== 'number') {
    delete schema.minimum;
    delete schema.maximum;
  }
  return { base: current, schema };
}

/** True for an attribute that only a profile or an extension brings: optional unless that is applied. */
function fromProfile(attr) {
  const profiles = attr.profiles ?? attr.profile;
  return (Array.isArray(profiles) ? profiles.length > 0 : Boolean(profiles)) || Boolean(attr.extension);
}

/** A JSON Pointer token. */
const pointer = (name) => name.replaceAll('~', '~0').replaceAll('/', '~1');

/** OCSF objects without attributes of their own (`object`, the type of `unmapped`) take anything. */
const freeForm = (object) => !object || Object.keys(object.attributes ?? {}).length === 0;

/**
 * The draft-07 JSON Schema of one class of a compiled OCSF export: the class's attributes and,
 * as definitions, the objects they reach, breadth first, down to MAX_OBJECT_DEPTH.
 */
export function ocsfClassSchema(exported, className = CLASS, maxDepth = MAX_OBJECT_DEPTH) {
  const version = exported.version;
  const cls = exported.classes?.[className];
  if (!cls) throw new Error(`the OCSF ${version ?? '(unversioned)'} export has no class ${className}`);
  // A compiled class carries base_event's attributes (v1 keeps base_event beside the classes).
  const baseEvent = exported.classes.base_event ?? exported.base_event;
  const uncompiled = Object.keys(baseEvent?.attributes ?? {}).filter((n) => !(n in (cls.attributes ?? {})));
  if (!baseEvent || uncompiled.length > 0) {
    throw new Error(
      `the OCSF ${version} export is not compiled: class ${className} lacks base_event's ` +
        (baseEvent ? `attributes ${uncompiled.join(', ')}` : 'attributes (it has no base_event)'),
    );
  }
  const types = ocsfTypes(exported);
  const objects = exported.objects ?? {};

  // Breadth first, so each object's depth is the least at which the class reaches it.
  const depthOf = new Map();
  let frontier = [cls];
  for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
    const next = [];
    for (const owner of frontier) {
      for (const attr of Object.values(owner.attributes ?? {})) {
        if (attr.type !== 'object_t') continue;
        const object = objects[attr.object_type];
        if (!object) throw new Error(`OCSF object ${attr.object_type} is referenced but not defined`);
        if (freeForm(object) || depthOf.has(attr.object_type)) continue;
        depthOf.set(attr.object_type, depth);
        next.push(object);
      }
    }
    frontier = next;
  }
  // Objects the next level would have added: these are only checked to be objects.
  const cut = new Set(
    frontier.flatMap((owner) =>
      Object.values(owner.attributes ?? {})
        .filter((a) => a.type === 'object_t' && !freeForm(objects[a.object_type]) && !depthOf.has(a.object_type))
        .map((a) => a.object_type),
    ),
  );

  const attributeSchema = (owner, name, attr) => {
    let schema;
    if (attr.type === 'object_t') {
      schema = depthOf.has(attr.object_type)
        ? { $ref: `#/definitions/${pointer(attr.object_type)}` }
        : { type: 'object' };
    } else {
      const { base, schema: scalar } = scalarSchema(types, attr.type);
      schema = scalar;
      // Enumerated integers (the `*_id` siblings, class_uid, type_uid ...) take only their keys.
      // Enumerated strings (a few, e.g. http_method) list suggestions, not a closed set.
      if (attr.enum && (base === 'integer_t' || base === 'long_t')) {
        const keys = Object.keys(attr.enum).map(Number);
        if (keys.some((k) => !Number.isInteger(k))) throw new Error(`${owner}.${name}: enum keys are not integers`);
        schema = { type: 'integer', enum: keys.sort((a, b) => a - b) };
      }
    }
    return attr.is_array ? { type: 'array', items: schema } : schema;
  };

  const objectSchema = (owner, def) => {
    const names = Object.keys(def.attributes ?? {}).sort();
    const properties = {};
    for (const name of names) properties[name] = attributeSchema(owner, name, def.attributes[name]);
    const required = names.filter(
      (n) => def.attributes[n].requirement === 'required' && !fromProfile(def.attributes[n]),
    );
    const schema = { title: def.caption ?? def.name, type: 'object', properties, additionalProperties: false };
    if (required.length > 0) schema.required = required;
    // OCSF constraints; the x- keywords name them for readable errors.
    const atLeastOne = def.constraints?.at_least_one;
    const justOne = def.constraints?.just_one;
    if (atLeastOne?.length) {
      schema['x-ocsf-at-least-one'] = atLeastOne;
      schema.anyOf = atLeastOne.map((n) => ({ required: [n] }));
    }
    if (justOne?.length) {
      schema['x-ocsf-just-one'] = justOne;
      schema.oneOf = justOne.map((n) => ({ required: [n] }));
    }
    return schema;
  };

  const definitions = {};
  for (const name of [...depthOf.keys()].sort()) definitions[name] = objectSchema(name, objects[name]);

  const chain = [className];
  for (let c = cls; c?.extends && !chain.includes(c.extends); c = exported.classes[c.extends]) chain.push(c.extends);
  const profiles = (cls.profiles ?? []).slice().sort();
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $comment:
      `OCSF ${version} class ${className} (class_uid ${cls.uid}; extends ${chain.slice(1).join(' -> ') || 'nothing'}), ` +
      `generated by scripts/siem-schemas.mjs from the compiled OCSF schema, which merges the attributes ` +
      `of the whole extends chain (up to base_event) into the class. Attributes of the profiles ` +
      `${profiles.join(', ')} are allowed and optional. ` +
      (cut.size > 0
        ? `Objects reached deeper than ${maxDepth} levels (${[...cut].sort().join(', ')}) are only checked to be objects. `
        : `Every object it reaches (${depthOf.size}) is defined. `) +
      'See NOTICE.md.',
    'x-ocsf-version': version,
    'x-ocsf-class': className,
    'x-ocsf-class-uid': cls.uid,
    'x-ocsf-profiles': profiles,
    ...objectSchema(className, cls),
    title: `${cls.caption ?? className} (OCSF ${version})`,
    definitions,
  };
}

// ---------------------------------------------------------------------------------------------
// ECS

/** ecs_flat (as parsed) and the ECS version, from any of the sources the header names. */
export function loadEcs(source) {
  const path = resolve(source);
  const isDir = statSync(path).isDirectory();
  const yml = isDir ? join(path, 'generated/ecs/ecs_flat.yml') : path;
  if (!isDir || existsSync(yml)) {
    if (!existsSync(yml)) throw new Error(`${yml} does not exist`);
    const flat = parseYaml(readFileSync(yml, 'utf8'), { maxAliasCount: -1 });
    // The checkout's root holds the version; ecs_flat.yml itself does not carry it.
    const versionFile = join(dirname(yml), '../../version');
    const fromVersion = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim() : undefined;
    const version = fromVersion ?? process.env.ECS_VERSION;
    if (!version) throw new Error(`no ECS version: ${versionFile} is missing; set ECS_VERSION`);
    return { flat, version, from: `elastic/ecs ${version}, generated/ecs/ecs_flat.yml` };
  }
  const module = join(path, 'build/commonjs/ecs_flat.js');
  const manifest = join(path, 'package.json');
  if (!existsSync(module) || !existsSync(manifest)) {
    throw new Error(`${path} is neither an elastic/ecs checkout nor the npm package @elastic/ecs`);
  }
  const require = createRequire(manifest);
  const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
  const { EcsFlat, EcsVersion } = require(module);
  if (!EcsFlat) throw new Error(`${module} exports no EcsFlat`);
  return {
    flat: EcsFlat,
    version: EcsVersion ?? pkg.version,
    from: `npm ${pkg.name}@${pkg.version}, build/commonjs/ecs_flat.js (elastic/ecs generated/ecs/ecs_flat.yml)`,
  };
}

/** The text of ecs-fields.json: one line per field, sorted. */
export function ecsFieldsText({ flat, version }) {
  const names = Object.keys(flat).sort();
  const lines = names.map((name) => {
    const field = flat[name];
    if (!field?.type) throw new Error(`ECS field ${name} has no type`);
    const entry = { type: field.type, normalize: field.normalize ?? [] };
    return `    ${JSON.stringify(name)}: ${JSON.stringify(entry)}`;
  });
  return `{\n  "version": ${JSON.stringify(version)},\n  "fields": {\n${lines.join(',\n')}\n  }\n}\n`;
}

// ---------------------------------------------------------------------------------------------

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The file an OCSF version's schema is written to. */
export const ocsfSchemaFile = (version) => `ocsf-${version}-${CLASS}.schema.json`;
/** Any OCSF schema file of CLASS this script writes or once wrote (unversioned). */
const OCSF_SCHEMA_FILE = new RegExp(`^ocsf-(?:.+-)?${CLASS}\\.schema\\.json$`);
/** A version fit for a file name: OCSF's are semver (1.1.0, 1.0.0-rc.3). */
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?$/;

/** Ascending semver order of plain x.y.z versions (a pre-release sorts before its release). */
export function compareVersions(a, b) {
  const [coreA, preA] = a.split('-', 2);
  const [coreB, preB] = b.split('-', 2);
  const x = coreA.split('.').map(Number);
  const y = coreB.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return preA < preB ? -1 : 1;
}

/** The version of the PyPI package ocsf-json-schema when the export lies in that unpacked wheel. */
function wheelVersion(file) {
  const site = resolve(dirname(file), '../..');
  if (basename(dirname(file)) !== 'ocsf' || basename(dirname(dirname(file))) !== 'ocsf_json_schema') return undefined;
  const info = readdirSync(site).find((f) => /^ocsf_json_schema-.+\.dist-info$/.test(f));
  return info?.slice('ocsf_json_schema-'.length, -'.dist-info'.length);
}

/** The shell commands that remake the directory from the same sources. */
function regenerateCommands(ocsf, ecs) {
  const wheels = [...new Set(ocsf.map((o) => o.wheel).filter(Boolean))].sort(compareVersions);
  const wheelDir = (w) => (wheels.length === 1 ? '$tmp/ocsf' : `$tmp/ocsf-${w}`);
  const lines = ['tmp=$(mktemp -d)'];
  for (const w of wheels) {
    lines.push(`pip download --no-deps -d "$tmp" ocsf-json-schema==${w}`);
    lines.push(`unzip -q "$tmp"/ocsf_json_schema-${w}-py3-none-any.whl -d "${wheelDir(w)}"`);
  }
  lines.push(`(cd "$tmp" && npm pack @elastic/ecs@${ecs.version} && tar xzf elastic-ecs-${ecs.version}.tgz)`);
  const args = ocsf.map((o) =>
    o.wheel ? `"${wheelDir(o.wheel)}/ocsf_json_schema/ocsf/${o.file}"` : `path/to/${o.file}`,
  );
  lines.push(`node scripts/siem-schemas.mjs \\`);
  for (const a of args) lines.push(`  ${a} \\`);
  lines.push('  "$tmp/package"');
  return lines.join('\n');
}

function notice({ ocsf, ecs }) {
  const rows = ocsf.map((o) => {
    const shipped = o.wheel
      ? `as shipped in the PyPI package \`ocsf-json-schema\` ${o.wheel}, file \`ocsf_json_schema/ocsf/${o.file}\``
      : `file \`${o.file}\``;
    return (
      `| \`${ocsfSchemaFile(o.version)}\` | the compiled OCSF schema (the OCSF server's ${o.endpoint} of ` +
      `github.com/ocsf/ocsf-schema, ${o.layout} layout), ${shipped} (sha256 \`${o.sha}\`) | OCSF ${o.version} |`
    );
  });
  const versions = ocsf.map((o) => o.version);
  const anyWithoutWheel = ocsf.some((o) => !o.wheel);
  return `# Vendored SIEM schemas

Generated by \`scripts/siem-schemas.mjs\`; do not edit by hand. Tests read them through
\`test/support/siemSchemas.ts\`, which checks an OCSF document against every version here
(${versions.join(', ')}) unless told one.

| file | made from | version |
| --- | --- | --- |
${rows.join('\n')}
| \`ecs-fields.json\` | ${ecs.from} | ECS ${ecs.version} |

Each \`ocsf-<version>-detection_finding.schema.json\` is a draft-07 JSON Schema of class
\`detection_finding\` (class_uid 2004, extends finding -> base_event) as that OCSF version defines
it and, as \`definitions\`, the OCSF objects it reaches (down to ${MAX_OBJECT_DEPTH} levels; its \`$comment\` says if
any was cut). Every OCSF object is closed (\`additionalProperties: false\`) except free-form ones
(\`unmapped\`, \`object\`); json_t takes any value. Attributes that profiles or extensions add are
allowed and optional. Integer enumerations (\`*_id\`, \`class_uid\`, \`type_uid\`, ...) take only their
keys; OCSF's \`at_least_one\` / \`just_one\` constraints are \`anyOf\` / \`oneOf\` of \`required\`.
OCSF's "recommended" attributes are optional here.

\`ecs-fields.json\` holds, for every field of \`generated/ecs/ecs_flat.yml\`, its flat name, type
and \`normalize\` list only.

## Licences

Both sources are licensed under the Apache License, Version 2.0
(https://www.apache.org/licenses/LICENSE-2.0); these files are derived from them (reduced to
what the tests need, reformatted).

OCSF schema (github.com/ocsf/ocsf-schema), its NOTICE:

> Open Cybersecurity Schema Framework
>
> Copyright © OCSF a Series of LF Projects, LLC
> For web site terms of use, trademark policy and other project policies please see https://lfprojects.org.
>
> This project includes the ICD Schema developed by Symantec, a division of Broadcom.
>
> Licensed under the Apache 2 license.

Elastic Common Schema (github.com/elastic/ecs), its NOTICE.txt:

> Elastic Common Schema
> Copyright 2018 Elastic N.V.
>
> Licensed under the Apache License, Version 2.0.

The npm package @elastic/ecs (github.com/elastic/ecs-typescript) that carries ecs_flat.yml as a
module is also Apache-2.0; its NOTICE.txt:

> Elasticsearch ECS Typings and codegen
> Copyright 2023 Elasticsearch B.V.

## Regenerating

\`\`\`sh
${regenerateCommands(ocsf, ecs)}
\`\`\`

Usage: \`node scripts/siem-schemas.mjs OCSF_EXPORT_JSON [OCSF_EXPORT_JSON...] ECS_SOURCE [--out DIR]\`:
every argument but the last is a compiled OCSF export (one schema is written per export, named by
the export's version; OCSF schemas of versions not given are removed), the last is the ECS source.
To check another OCSF version too, add its file (\`ocsf_json_schema/ocsf/<version>.json\`) to the
list. A checkout of github.com/elastic/ecs (its root, or its \`generated/ecs/ecs_flat.yml\`) can take
the place of \`"$tmp/package"\`.${
    anyWithoutWheel
      ? '\nExports given as `path/to/...` did not come from the PyPI package; fetch them from schema.ocsf.io (`/<version>/export/schema`).'
      : ''
  }
`;
}

const USAGE = 'usage: node scripts/siem-schemas.mjs OCSF_EXPORT_JSON [OCSF_EXPORT_JSON...] ECS_SOURCE [--out DIR]\n';

/** The command line: the OCSF exports, the ECS source and the output directory. */
function parseArgs(argv) {
  const positional = [];
  let out;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (arg === '--out') {
      out = argv[++i];
      if (!out) throw new Error(`--out takes a directory\n${USAGE}`);
    } else if (arg.startsWith('--out=')) {
      out = arg.slice('--out='.length);
    } else if (arg.startsWith('-') && arg !== '-') {
      throw new Error(`unknown option ${arg}\n${USAGE}`);
    } else {
      positional.push(arg);
    }
  }
  if (positional.length < 2) throw new Error(`give at least one OCSF export and the ECS source\n${USAGE}`);
  const ecsPath = positional.at(-1);
  const ocsfPaths = positional.slice(0, -1);
  if (ecsPath.endsWith('.json')) {
    throw new Error(`${ecsPath} looks like an OCSF export: the ECS source goes last\n${USAGE}`);
  }
  for (const path of ocsfPaths) {
    if (!existsSync(path)) throw new Error(`${path} does not exist`);
    if (statSync(path).isDirectory()) {
      throw new Error(
        `${path} is a directory: every argument but the last is a compiled OCSF export (a .json file); ` +
          `the output directory goes after --out\n${USAGE}`,
      );
    }
  }
  return { ocsfPaths, ecsPath, out: resolve(out ?? join(ROOT, 'test/fixtures/siem')) };
}

function main() {
  const { ocsfPaths, ecsPath, out } = parseArgs(process.argv.slice(2));
  // Everything is read and compiled before anything is written.
  const ocsf = ocsfPaths.map((path) => {
    const exported = JSON.parse(readFileSync(path, 'utf8'));
    const version = exported.version;
    if (typeof version !== 'string' || !VERSION.test(version)) {
      throw new Error(`${path}: its version ${JSON.stringify(version)} is no OCSF version`);
    }
    const v2 = Boolean(exported.dictionary);
    return {
      path,
      version,
      file: basename(path),
      sha: sha256(path),
      wheel: wheelVersion(path),
      layout: v2 ? 'v2' : 'v1',
      endpoint: v2 ? '`/export/v2/schema`' : '`/export/schema`',
      schema: ocsfClassSchema(exported),
    };
  });
  ocsf.sort((a, b) => compareVersions(a.version, b.version));
  for (let i = 1; i < ocsf.length; i++) {
    if (ocsf[i].version === ocsf[i - 1].version) {
      throw new Error(`${ocsf[i - 1].path} and ${ocsf[i].path} are both OCSF ${ocsf[i].version}`);
    }
  }
  const ecs = loadEcs(ecsPath);

  mkdirSync(out, { recursive: true });
  const written = [];
  for (const o of ocsf) {
    const target = join(out, ocsfSchemaFile(o.version));
    writeFileSync(target, `${JSON.stringify(o.schema, null, 1)}\n`);
    written.push(target);
  }
  const ecsTarget = join(out, 'ecs-fields.json');
  writeFileSync(ecsTarget, ecsFieldsText(ecs));
  written.push(ecsTarget);
  const noticeTarget = join(out, 'NOTICE.md');
  writeFileSync(noticeTarget, notice({ ocsf, ecs }));
  written.push(noticeTarget);

  const keep = new Set(ocsf.map((o) => ocsfSchemaFile(o.version)));
  for (const stale of readdirSync(out).filter((f) => OCSF_SCHEMA_FILE.test(f) && !keep.has(f))) {
    rmSync(join(out, stale));
    console.log(`removed ${relative(ROOT, join(out, stale))}`);
  }
  for (const file of written) console.log(`wrote ${relative(ROOT, file)} (${statSync(file).size} bytes)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`siem-schemas: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
