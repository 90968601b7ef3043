// npm run token -- --tenant acme --user alice --scope "orders:read orders:refund": prints a development JWT.
import { parseArgs } from 'node:util';
import { loadConfig } from '../runtime/config';
import { issueDevToken } from '../runtime/jwt-secret';

const ALL_SCOPES = 'orders:read orders:refund orders:write';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string', default: 'acme' },
      user: { type: 'string', default: 'dev-user' },
      scope: { type: 'string', default: ALL_SCOPES },
      ttl: { type: 'string', default: String(12 * 3600) },
    },
  });
  const config = loadConfig();
  const token = await issueDevToken(config, {
    tenantId: values.tenant,
    userId: values.user,
    scopes: values.scope.split(/\s+/).filter(Boolean),
    ttlSeconds: Number(values.ttl),
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
