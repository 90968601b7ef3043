// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Typed linting, plus the direction of imports from ../shared/STYLE.md ("Which
 * way imports run"): a tool call flows session/http → gateway → Temporal →
 * workflows → activities, and imports never run back. `src/contracts` is the
 * leaf every layer (and the workflow bundle) may import.
 */

/** Project folders under src/, and the import specifiers that reach each from any depth below src/<folder>/. */
const FOLDERS = ['contracts', 'gateway', 'workflows', 'activities', 'session', 'http', 'runtime', 'cli', 'temporal', 'scripted-model'];
const reach = (...folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;
const others = (...allowed) => FOLDERS.filter((folder) => !allowed.includes(folder));

/** `no-restricted-imports` for one folder: which project folders it may not import, and why. */
function boundary(folder, { forbidden, typeOnly = [], extra = [], why }) {
  const patterns = [];
  if (forbidden.length) patterns.push({ regex: reach(...forbidden), message: `src/${folder} ${why}` });
  if (typeOnly.length) {
    patterns.push({ regex: reach(...typeOnly), allowTypeImports: true, message: `src/${folder} may import ${typeOnly.join(', ')} as types only (\`import type\`)` });
  }
  patterns.push(...extra);
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
}

const NODE_BUILTINS = { regex: '^node:', message: 'Workflow code runs in a deterministic sandbox: no Node built-ins' };
const GATEWAY_INSIDE = { regex: '^(\\.\\./)+gateway/.', message: 'Import the gateway through its index (`../gateway`), not its files' };

export default tseslint.config(
  {
    // Typed linting covers the TypeScript project (tsconfig.json: src, test, bench); a stray .ts at the root is not in it.
    ignores: ['node_modules/**', 'dist/**', 'coverage/**', '.holdline/**', 'test/replay/fixtures/**', '**/*.js', '**/*.cjs', '**/*.mjs', '*.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // An un-awaited promise is a silent bug: a lost activity call, an unhandled rejection.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Tests read loosely typed JSON answers; `any` there is a choice, not a slip.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // An empty arrow function as a default listener or no-op reads as intended.
    rules: { '@typescript-eslint/no-empty-function': 'off' },
  },
  {
    // An example is what a user writes: the package's public API (`holdline`) and its own files, nothing deeper.
    files: ['examples/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+src(/|$)', message: 'examples import Holdline as users do: from "holdline"' }] }] },
  },
  boundary('contracts', { forbidden: others('contracts'), why: 'is the leaf: it imports nothing else of the project' }),
  boundary('workflows', {
    forbidden: others('contracts', 'workflows', 'activities'),
    typeOnly: ['activities'],
    extra: [NODE_BUILTINS],
    why: 'runs in the workflow sandbox: it imports the contracts, its own files, and activity types only',
  }),
  boundary('activities', { forbidden: others('contracts', 'activities'), why: 'imports the contracts and its own files only' }),
  boundary('gateway', {
    forbidden: ['session', 'http', 'runtime', 'cli', 'scripted-model', 'activities', 'temporal'],
    why: 'knows nothing of sessions, HTTP, the runtime or the tools themselves',
  }),
  boundary('session', { forbidden: others('contracts', 'gateway', 'session'), extra: [GATEWAY_INSIDE], why: 'imports the gateway (through its index) and the contracts only' }),
  boundary('http', { forbidden: others('contracts', 'gateway', 'http'), extra: [GATEWAY_INSIDE], why: 'imports the gateway (through its index) and the contracts only' }),
  boundary('temporal', { forbidden: others('temporal'), why: 'manages the Temporal binary and dev server; it imports nothing else of the project' }),
  boundary('scripted-model', { forbidden: others('contracts', 'scripted-model'), why: 'is a stand-in model; it imports the contracts at most' }),
  boundary('runtime', { forbidden: ['cli'], why: 'wires the layers together; the command line sits above it' }),
);
