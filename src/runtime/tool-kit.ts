import type { Logger } from 'pino';
import type { ToolImplementation } from '../activities';

export type Role = 'all' | 'server' | 'worker';

/** What a tools factory is given when Holdline starts. */
export interface ToolsSetup {
  /** Which parts run in this process: a `server` only serves the declarations (and fallbacks). */
  role: Role;
  /** Holdline's data directory (`HOLDLINE_DATA_DIR`), resolved; a place for an embedded store. */
  dataDir: string;
  /** The environment Holdline's configuration was read from. */
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/** Tools and what to release when Holdline stops (a store's connection, say). */
export interface ToolKit {
  tools: readonly ToolImplementation[];
  /** Called once when Holdline stops, after the worker and server are down. */
  close?: () => void | Promise<void>;
}

/** Builds the tools when Holdline starts, so they can open what they need (a store, a client). */
export type ToolsFactory = (setup: ToolsSetup) => ToolKit | readonly ToolImplementation[] | Promise<ToolKit | readonly ToolImplementation[]>;

/** Tools written in TypeScript: implementations, or a factory of them. */
export type Tools = readonly ToolImplementation[] | ToolsFactory;

/** Builds the tools (calling the factory, if given one) and checks what came back. */
export async function openToolKit(tools: Tools | undefined, setup: ToolsSetup, origin = 'the tools option'): Promise<ToolKit> {
  if (tools === undefined) return { tools: [] };
  const made = typeof tools === 'function' ? await tools(setup) : tools;
  const kit: ToolKit = isToolList(made) ? { tools: made } : made;
  if (!kit || !isToolList(kit.tools)) {
    throw new TypeError(`${origin} must give tools made with implementTool (an array, or a factory returning one or { tools, close })`);
  }
  return kit;
}

/**
 * The tools a module exports: its default export, else its `tools` export;
 * either an array of implementations or a factory. Errors name the module.
 */
export function toolsOfModule(exported: unknown, origin: string): Tools {
  const module = exported as { default?: unknown; tools?: unknown } | undefined;
  // A CommonJS build of `export default` nests the value one level more.
  const candidates = [module?.default, (module?.default as { default?: unknown } | undefined)?.default, module?.tools, module];
  for (const candidate of candidates) {
    if (typeof candidate === 'function' || isToolList(candidate)) return candidate as Tools;
  }
  throw new TypeError(`${origin} exports no tools: export default (or export const tools =) an array of implementTool(...) results, or a function returning one`);
}

function isToolList(value: unknown): value is readonly ToolImplementation[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'object' && item !== null && 'spec' in item && typeof (item as ToolImplementation).activity === 'function');
}
