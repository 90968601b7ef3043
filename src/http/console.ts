import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router, type Request, type Response } from 'express';
import type { ConsoleAsset, ConsoleAssets } from '../console/build';

/** Where `npm run build` puts the console, relative to this file compiled (dist/http → dist/console/assets). */
const BUILT_DIR = join(__dirname, '..', 'console', 'assets');

/**
 * The page only talks to its own origin (the API and /v1/realtime); inline
 * scripts and every other origin are refused, so nothing reaches a CDN.
 */
const CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

let assets: Promise<ConsoleAssets> | undefined;

/**
 * The console's files: read from the built package when it was built, else
 * bundled now (running from source), once per process and kept in memory.
 */
function consoleAssets(): Promise<ConsoleAssets> {
  assets ??= existsSync(join(BUILT_DIR, 'index.html'))
    ? Promise.resolve(readBuilt(BUILT_DIR))
    : import('../console/build').then(({ buildConsole }) => buildConsole());
  // A failed build is tried again on the next request rather than remembered.
  assets.catch(() => (assets = undefined));
  return assets;
}

function readBuilt(dir: string): ConsoleAssets {
  const types: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
  const files = new Map<string, ConsoleAsset>();
  for (const name of readdirSync(dir)) {
    const type = types[name.split('.').pop() ?? ''];
    if (type) files.set(name, { body: readFileSync(join(dir, name)), contentType: type });
  }
  return files;
}

/**
 * Serves the operator console at `/` (index.html, console.js, console.css),
 * outside `/v1`: the page itself is public, everything it shows comes from
 * the API with the token the user signs in with. Starts bundling at once, so
 * the first visitor does not wait for it.
 */
export function consoleRoutes(): Router {
  void consoleAssets().catch(() => undefined);
  const router = Router();
  const send = (name: string) => async (_req: Request, res: Response) => {
    const asset = (await consoleAssets()).get(name);
    if (!asset) {
      res.status(404).type('text/plain').send('Not found');
      return;
    }
    res.setHeader('Content-Type', asset.contentType);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (name === 'index.html') {
      res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      res.setHeader('Referrer-Policy', 'no-referrer');
    }
    res.send(asset.body);
  };
  router.get('/', send('index.html'));
  router.get('/console.js', send('console.js'));
  router.get('/console.css', send('console.css'));
  return router;
}
