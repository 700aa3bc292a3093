// Builds a JavaScript plugin into a WebAssembly component with componentize-js.
//
//   node --input-type=module -e "$(cat build.mjs)" -- ENTRY.js WIT_DIR OUT.wasm
//   node build.mjs ENTRY.js WIT_DIR OUT.wasm
//
// Run it in the project directory: componentize-js is resolved from there (its own
// node_modules or an ancestor's). Exit status 0 when built, 1 when the build failed, 2
// for wrong arguments.
//
// componentize-js maps one directory into the engine that loads the sources, and only
// relative imports inside it resolve. This script maps the nearest directory holding
// the entry and every module it reaches through relative imports, so a plugin can import
// an SDK beside the project (`../../guest-sdk/js/piston-guest.js`) without a bundler.
//
// With `PISTON_WEVAL` naming a weval binary (0.4, the version componentize-js 0.22 is
// made for), the engine is compiled ahead of time (componentize-js's AOT mode): the
// interpreter is specialized to the plugin's code, which then runs about a third
// fewer instructions a call; the component is larger and takes longer to build.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join, parse, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

const COMPONENTIZE = '@bytecodealliance/componentize-js';
/** The world a handler plugin implements (wit/handler.wit). */
const WORLD = 'plugin';
/**
 * Built without fetch() and the fetch event: a plugin's exports are synchronous, and
 * fetch() only settles in an event loop they cannot wait for. Outbound HTTP goes through
 * the SDK's `http`, which calls wasi:http directly and blocks.
 */
const DISABLED_FEATURES = ['http', 'fetch-event'];

/**
 * Removes work from the glue code componentize-js generates for the plugin's imports and
 * exports, which runs on every call between the host and the plugin.
 *
 * componentize-js runs JavaScript in an interpreter, where iterating a string runs the
 * iterator protocol a character at a time: several microseconds per character. The glue
 * that copies a string to the host counted its code points that way (`[...s].length`)
 * into a field nothing reads, so every request paid for walking its response body, and
 * every store call for walking its key. The count is dropped; the copy itself is
 * unchanged (`TextEncoder.encode`).
 *
 * The glue is generated inside the package, so the change is applied to what its splicer
 * returns, before componentize-js evaluates it. A rewrite whose text is not found (another
 * version generates different glue) is skipped: the build is correct either way.
 */
const GLUE_REWRITES = [
  [', codepoints: [...s].length }', ' }'],
  // The glue logs its every step through `_debugLog(message, {details})`, which
  // returns at once inside the engine (there is no `process.env.JCO_DEBUG` there), yet
  // builds its arguments first: an object literal, often several property reads, a few
  // dozen times a call. Every call stands as a statement of its own; guarded, none of
  // that runs.
  [/^(\s*)_debugLog\(/gm, '$1false && _debugLog('],
];

function fail(message, status = 1) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(status);
}

const ranAsFile =
  process.argv[1] !== undefined && pathToFileURL(resolve(process.argv[1])).href === import.meta.url;
const args = process.argv.slice(ranAsFile ? 2 : 1);
if (args.length !== 3) {
  fail('usage: build.mjs ENTRY.js WIT_DIR OUT.wasm (run in the project directory)', 2);
}
const [entry, wit, out] = args.map((path) => resolve(path));
if (!isFile(entry)) fail(`the entry module \`${entry}\` is not a file`, 2);
if (!existsSync(wit)) fail(`the WIT directory \`${wit}\` does not exist`, 2);

// Resolved from the project directory, before anything changes it.
let componentizeUrl;
try {
  componentizeUrl = import.meta.resolve(COMPONENTIZE);
} catch {
  fail(
    `${COMPONENTIZE} is not installed here or in a parent directory: ` +
      'run `npm install` (or `npm ci`) in the project, whose package.json should list it',
  );
}
const { componentize } = await import(componentizeUrl);
await trimBindings(componentizeUrl);

// Map the directory that holds every local module, and load the entry relative to it.
const root = commonDirectory(localModules(entry));
if (parse(root).root === root) {
  fail(`the plugin's modules have no common directory but the filesystem root: ${root}`);
}
const weval = aheadOfTime();
process.chdir(root);

// Ahead of time, componentize-js gives the engine the entry's own directory, not a
// mapped one: an entry module in the common directory re-exports the plugin's, so that
// every local module is inside what the engine can read.
const sourcePath = weval ? join(root, `.piston-entry-${process.pid}.js`) : entry;
let component;
let failure;
try {
  if (weval) {
    await writeFile(sourcePath, `export * from ${JSON.stringify(`./${relative(root, entry)}`)};\n`);
  }
  ({ component } = await componentize({
    sourcePath,
    witPath: wit,
    worldName: WORLD,
    disableFeatures: DISABLED_FEATURES,
    ...(weval && { enableAot: true, wevalBin: weval }),
  }));
} catch (error) {
  failure = error;
} finally {
  if (weval) await rm(sourcePath, { force: true });
}
if (failure !== undefined) {
  const message = String(failure?.message ?? failure);
  // componentize-js counts syntax errors without saying where: node can.
  const where = /failed to parse/i.test(message) ? syntaxErrors(localModules(entry)) : '';
  fail(`componentize-js could not build ${relative(root, entry)}:\n${message}${where}`);
}

// Written beside the target and renamed in, so that a watcher never sees half a file.
await mkdir(dirname(out), { recursive: true });
const partial = join(dirname(out), `.${basename(out)}.partial`);
try {
  await writeFile(partial, component);
  await rename(partial, out);
} catch (error) {
  await rm(partial, { force: true });
  fail(`cannot write ${out}: ${error.message}`);
}
// `piston build` reports the file it renames into place itself.
if (ranAsFile) process.stdout.write(`built ${out} (${Math.round(component.length / 1024)} KiB)\n`);

async function trimBindings(componentizeUrl) {
  let splicer;
  try {
    ({ splicer } = await import(new URL('../lib/spidermonkey-embedding-splicer.js', componentizeUrl)));
  } catch {
    return;
  }
  if (typeof splicer?.spliceBindings !== 'function') return;
  const splice = splicer.spliceBindings;
  splicer.spliceBindings = (...args) => {
    const spliced = splice(...args);
    let glue = spliced.jsBindings;
    for (const [from, to] of GLUE_REWRITES) glue = glue.replaceAll(from, to);
    return { ...spliced, jsBindings: glue };
  };
}

/** The weval binary `PISTON_WEVAL` names, if any; the build fails if it is not a file. */
function aheadOfTime() {
  const weval = process.env.PISTON_WEVAL;
  if (!weval) return undefined;
  if (!isFile(weval)) fail(`PISTON_WEVAL names \`${weval}\`, which is not a file`);
  return resolve(weval);
}

function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The entry and every file it reaches through relative imports. */
function localModules(entry) {
  const seen = new Set();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of relativeSpecifiers(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), specifier);
      if (isFile(target)) pending.push(target);
    }
  }
  return [...seen];
}

/**
 * The relative specifiers of a module's imports and re-exports. A specifier found in a
 * comment or string only widens the mapped directory, which is harmless.
 */
function relativeSpecifiers(source) {
  const found = [];
  const patterns = [
    /\bfrom\s*(['"])(\.{1,2}\/[^'"\n]*)\1/g,
    /\bimport\s*(['"])(\.{1,2}\/[^'"\n]*)\1/g,
    /\bimport\s*\(\s*(['"])(\.{1,2}\/[^'"\n]*)\1\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) found.push(match[2]);
  }
  return found;
}

/** Where the modules' syntax errors are, as node reports them. */
function syntaxErrors(files) {
  let report = '';
  for (const file of files) {
    const check = spawnSync(process.execPath, ['--input-type=module', '--check'], {
      input: readFileSync(file),
      encoding: 'utf8',
    });
    if (check.status === 0) continue;
    const lines = check.stderr.split('\n');
    const end = lines.findIndex((line) => /^\w*Error\b/.test(line));
    const shown = (end === -1 ? lines : lines.slice(0, end + 1)).join('\n').trim();
    report += `\n${shown.replace(/^\[stdin\]/, relative(process.cwd(), file))}`;
  }
  return report;
}

function commonDirectory(files) {
  let common = dirname(files[0]).split(sep);
  for (const file of files.slice(1)) {
    const parts = dirname(file).split(sep);
    let same = 0;
    while (same < common.length && same < parts.length && common[same] === parts[same]) same += 1;
    common = common.slice(0, same);
  }
  return common.join(sep) || sep;
}
