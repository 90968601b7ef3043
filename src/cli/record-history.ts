// npm run record-history -- --workflow-id acme/call-123 --out test/replay/fixtures/refund-ok.json
// Saves a workflow's history from TEMPORAL_ADDRESS (default 127.0.0.1:<TEMPORAL_DEV_PORT>) as a replay fixture.
import { parseArgs } from 'node:util';
import { loadConfig } from '../runtime/config';
import { gatewayClient } from '../runtime/temporal';
import { saveHistory } from '../temporal/history';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'workflow-id': { type: 'string' }, out: { type: 'string' } } });
  if (!values['workflow-id'] || !values.out) throw new Error('usage: npm run record-history -- --workflow-id <id> --out <file.json>');
  const config = loadConfig();
  const client = gatewayClient(config, config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_DEV_PORT}`);
  const events = await saveHistory(client, values['workflow-id'], values.out);
  process.stdout.write(`saved ${events} events of ${values['workflow-id']} to ${values.out}\n`);
  await client.connection.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
