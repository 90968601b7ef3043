import { existsSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { toolsOfModule, type Tools } from '../runtime/tool-kit';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/**
 * Loads the tools a module exports (see `toolsOfModule`): a JavaScript file,
 * a TypeScript file (compiled on the fly by tsx, so a user needs no build
 * step), or a folder with an index. Errors name the path and what to do.
 */
export function loadToolsModule(path: string, cwd = process.cwd()): Tools {
  const file = resolveEntry(resolve(cwd, path));
  if (TYPESCRIPT.has(extname(file)) && !require.extensions['.ts']) {
    // Registered once per process; under tsx already (this repository's own scripts) .ts loads as it is.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when a TypeScript module is given
    const { register } = require('tsx/cjs/api') as { register: () => () => void };
    register();
  }
  let exported: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the user's module, named at run time
    exported = require(file);
  } catch (error) {
    throw new Error(`could not load the tools module ${file}: ${(error as Error).message}`, { cause: error });
  }
  return toolsOfModule(exported, `the tools module ${file}`);
}

function resolveEntry(path: string): string {
  if (existsSync(path) && statSync(path).isFile()) return path;
  if (existsSync(path) && statSync(path).isDirectory()) {
    for (const index of ['index.ts', 'index.js', 'index.cjs', 'index.mts', 'index.mjs']) {
      if (existsSync(join(path, index))) return join(path, index);
    }
    throw new Error(`the tools folder ${path} has no index.ts or index.js`);
  }
  for (const extension of ['.ts', '.js', '.cjs']) if (existsSync(`${path}${extension}`)) return `${path}${extension}`;
  throw new Error(`no tools module at ${path}`);
}
