import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

/** One file the console is made of: served as it is, from memory or from disk. */
export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
}

/** The console's files by name (`index.html`, `console.js`, `console.css`). */
export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>;

/** Where the built console lives in the compiled package, next to its compiled server code. */
export const CONSOLE_ASSET_DIR = 'assets';

const ENTRY = resolve(__dirname, '..', '..', 'src', 'console', 'app', 'main.tsx');

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Holdline console</title>
<link rel="stylesheet" href="console.css">
</head>
<body>
<div id="root"><noscript>The Holdline console needs JavaScript.</noscript></div>
<script src="console.js" defer></script>
</body>
</html>
`;

/**
 * Bundles and minifies the browser console (preact, TSX) with esbuild. Fast
 * enough (well under a second) to run at server start when the package was
 * not built, as under tsx from source.
 */
export async function buildConsole(): Promise<ConsoleAssets> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    minify: true,
    write: false,
    format: 'iife',
    target: ['es2020'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: 'out',
    entryNames: 'console',
    legalComments: 'none',
    tsconfig: resolve(__dirname, '..', '..', 'src', 'console', 'tsconfig.json'),
    logLevel: 'silent',
  });
  const assets = new Map<string, ConsoleAsset>([['index.html', { body: Buffer.from(INDEX_HTML), contentType: 'text/html; charset=utf-8' }]]);
  for (const file of result.outputFiles) {
    const name = file.path.split(/[\\/]/).pop()!;
    const contentType = name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
    assets.set(name, { body: Buffer.from(file.contents), contentType });
  }
  return assets;
}

/** Writes the built console to `dir` (for `npm run build`, into dist/console/assets). */
export async function writeConsole(dir: string): Promise<string[]> {
  const assets = await buildConsole();
  mkdirSync(dir, { recursive: true });
  for (const [name, asset] of assets) writeFileSync(join(dir, name), asset.body);
  return [...assets.keys()];
}

if (require.main === module) {
  const dir = resolve(process.argv[2] ?? join('dist', 'console', CONSOLE_ASSET_DIR));
  writeConsole(dir).then(
    (names) => process.stdout.write(`console built into ${dir}: ${names.join(', ')}\n`),
    (error: unknown) => {
      process.stderr.write(`the console could not be built: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
