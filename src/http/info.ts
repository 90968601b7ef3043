import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a client needs to link out of Holdline: `GET /v1/info`. */
export interface ServerInfo {
  /** The Temporal Web UI, when this Holdline knows where it is (the embedded dev server's). */
  temporal_ui_url?: string;
  namespace: string;
  version: string;
}

// From src/http or dist/http alike, the package's own manifest is two folders up.
const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

export function serverInfo(namespace: string, temporalUiUrl: string | undefined): ServerInfo {
  return { ...(temporalUiUrl ? { temporal_ui_url: temporalUiUrl.replace(/\/+$/, '') } : {}), namespace, version };
}
