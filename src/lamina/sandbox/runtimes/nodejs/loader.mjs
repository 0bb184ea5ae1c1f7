// Finding and loading the user's handler from `_HANDLER`.
//
// `<dir>/<module>.<export>`: the module name ends at the first dot after the last
// slash, the rest is a (possibly nested, `a.b`) export path. The module file is tried as
// `<task root>/<dir>/<module>` + `.js`, `.mjs`, `.cjs`; failing that, the bare name is
// resolved like `require('<module>')` from that directory (node_modules, NODE_PATH),
// which is how Lambda finds handlers in packages and layers.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import {
  HandlerNotFound, ImportModuleError, MalformedHandlerName, RuntimeError, UserCodeSyntaxError,
} from './errors.mjs';
import { isStreamingHandler } from './streaming.mjs';

const require = createRequire(import.meta.url);
const EXTENSIONS = ['.js', '.mjs', '.cjs'];

/** Splits a handler string; throws Runtime.MalformedHandlerName. */
export function parseHandler(handler) {
  if (typeof handler !== 'string' || handler === '') {
    throw MalformedHandlerName(`Bad handler ${handler}`);
  }
  if (handler.split('/').includes('..')) {
    throw MalformedHandlerName(`Bad handler ${handler}: '..' is not allowed in the handler path`);
  }
  const slash = handler.lastIndexOf('/');
  const dir = handler.slice(0, slash + 1);
  const file = handler.slice(slash + 1);
  const dot = file.indexOf('.');
  if (dot <= 0 || dot === file.length - 1) throw MalformedHandlerName(`Bad handler ${handler}`);
  return { dir, module: file.slice(0, dot), exportPath: file.slice(dot + 1).split('.') };
}

function isFile(p) {
  return fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** The nearest package.json says whether a `.js` file is an ES module. */
function isEsmPackage(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (isFile(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8')).type === 'module';
      } catch {
        return false; // Node itself would fail on it; let the load report that
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
}

function resolveModuleFile(taskRoot, dir, module) {
  const base = path.resolve(taskRoot, dir, module);
  const found = EXTENSIONS.map((ext) => base + ext).find(isFile);
  if (found) return found;
  // Throws MODULE_NOT_FOUND: "Cannot find module '<module>'".
  return require.resolve(module, { paths: [path.resolve(taskRoot, dir)] });
}

async function importFile(file) {
  return import(pathToFileURL(file).href);
}

async function loadFile(file) {
  if (file.endsWith('.mjs') || (file.endsWith('.js') && isEsmPackage(file))) return importFile(file);
  try {
    return require(file);
  } catch (err) {
    // ES syntax in a CommonJS-typed file, or top-level await: only import() can load it.
    if (err?.code === 'ERR_REQUIRE_ESM' || err?.code === 'ERR_REQUIRE_ASYNC_MODULE') return importFile(file);
    throw err;
  }
}

function classifyLoadError(err) {
  const code = err?.code;
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') return ImportModuleError(err);
  if (err instanceof SyntaxError || err?.name === 'SyntaxError') return UserCodeSyntaxError(err);
  return err; // the user's own init error keeps its type
}

/** Lambda stopped accepting callback-style handlers with nodejs24.x. */
export function runtimeMajor(env = process.env) {
  const m = /^AWS_Lambda_nodejs(\d+)/.exec(env.AWS_EXECUTION_ENV ?? '');
  return Number(m ? m[1] : process.versions.node.split('.')[0]);
}

// The first sentence is what Lambda prints; the rest is ours.
const CALLBACK_REMOVED = 'ERROR: AWS Lambda has removed support for callback-based function handlers starting with '
  + 'Node.js 24. Declare the handler as (event, context) and return a value or a promise instead of calling a callback.';

/** Loads the module and returns the handler function; throws Lambda's init errors. */
export async function loadHandler(handler, taskRoot, env = process.env) {
  const { dir, module, exportPath } = parseHandler(handler);
  let exports;
  try {
    exports = await loadFile(resolveModuleFile(taskRoot, dir, module));
  } catch (err) {
    throw classifyLoadError(err);
  }
  const fn = exportPath.reduce((value, key) => (value == null ? undefined : value[key]), exports);
  if (fn === undefined) throw HandlerNotFound(`${handler} is undefined or not exported`);
  if (typeof fn !== 'function') throw HandlerNotFound(`${handler} is not a function`);
  if (runtimeMajor(env) >= 24 && fn.length >= 3 && !isStreamingHandler(fn)) {
    throw new RuntimeError('Runtime.CallbackHandlerDeprecated', CALLBACK_REMOVED);
  }
  return fn;
}
