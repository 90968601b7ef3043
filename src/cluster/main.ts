// npm run cluster: Holdline as a cluster on this machine (PostgreSQL, Temporal, Redis, workers, servers) until Ctrl-C.
import { relative } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { startCluster, type Cluster } from './cluster';

const count = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new InvalidArgumentError('must be an integer from 1 to 16');
  return n;
};

const options = new Command('npm run cluster --')
  .description('Runs Holdline as a cluster on loopback: PostgreSQL, the Temporal server on it, Redis, workers and servers')
  .option('--dir <path>', 'data directory, kept between runs (env HOLDLINE_CLUSTER_DIR)', process.env.HOLDLINE_CLUSTER_DIR || '.holdline-cluster')
  .option('--servers <n>', 'how many servers', count, 2)
  .option('--workers <n>', 'how many workers', count, 2)
  .option('-t, --tools <module>', 'the tools module', './examples/support-desk')
  .parse()
  .opts<{ dir: string; servers: number; workers: number; tools: string }>();

const say = (line: string) => process.stdout.write(`cluster: ${line}\n`);
let cluster: Cluster | undefined;
let stopping = false;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping servers, workers, Temporal, Redis, PostgreSQL`);
  await cluster?.stop();
  say('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

startCluster({ dir: options.dir, servers: options.servers, workers: options.workers, tools: options.tools, say })
  .then((started) => {
    cluster = started;
    if (stopping) return shutdown('signal during start-up');
    process.stdout.write(banner(started));
  })
  .catch((error: unknown) => {
    process.stderr.write(`cluster: could not start: ${(error as Error).message}\n`);
    process.exit(1);
  });

function banner(c: Cluster): string {
  const fromHere = relative(process.cwd(), c.dir);
  const dir = !fromHere ? '.' : fromHere.startsWith('..') ? c.dir : fromHere;
  const cli = c.temporalCli;
  return [
    '',
    `Holdline cluster is running (data in ${dir}; each process logs to ${dir}/<name>/<name>.log)`,
    ...c.servers.map((url, i) => `  server-${i + 1}:     ${url}   (console ${url}/, API ${url}/v1/tools, realtime ${url.replace(/^http/, 'ws')}/v1/realtime)`),
    `  workers:      ${Object.keys(c.processes).filter((n) => n.startsWith('worker-')).join(', ')}`,
    `  Temporal:     ${c.temporalAddress} (namespace ${c.namespace}; server v1.29.1 on PostgreSQL, log ${dir}/temporal/temporal.log)`,
    `  PostgreSQL:   ${c.postgresUrl} (databases temporal, temporal_visibility, holdline)`,
    `  Redis:        ${c.redisUrl}`,
    '',
    '  Get a token:  HOLDLINE_DATA_DIR=' + dir + ' npm run token -- --tenant acme --user alice',
    `  Call a tool:  curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
    `                  -d '{"tool":"lookup_order","arguments":{"order_id":"A-1001"}}' ${c.servers[0]}/v1/tool-calls`,
    '  Look at calls: the Temporal server has no Web UI built in. Use the console above, or the Temporal CLI:',
    `                  ${cli} workflow list --address ${c.temporalAddress}`,
    `                  ${cli} workflow show --address ${c.temporalAddress} --workflow-id '<tenant>/<user>/<key>'`,
    '                or run the UI in Docker against it:',
    `                  docker run --rm --network host -e TEMPORAL_ADDRESS=${c.temporalAddress} -e TEMPORAL_UI_PORT=8080 temporalio/ui:2.42.1`,
    '                (docker compose up runs the same pieces with the UI included: see docker-compose.yml)',
    '  Stop:         Ctrl-C (stops everything, in reverse order)',
    '',
  ].join('\n') + '\n';
}
