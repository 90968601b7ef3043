// npm run temporal:cli: finds or builds the Temporal CLI and prints its path and version.
import { cliVersion, resolveTemporalCli } from '../temporal/cli-binary';

resolveTemporalCli({
  ...(process.env.TEMPORAL_CLI ? { explicitPath: process.env.TEMPORAL_CLI } : {}),
  onProgress: (message) => process.stderr.write(`${message}\n`),
})
  .then((path) => process.stdout.write(`${path}\n${cliVersion(path)}\n`))
  .catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  });
