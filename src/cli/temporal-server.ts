// npm run temporal:server: finds or builds the Temporal server and its sql tool (for `npm run cluster`) and prints their paths.
import { resolveTemporalServer } from '../temporal/server-binary';

resolveTemporalServer({ onProgress: (message) => process.stderr.write(`${message}\n`) })
  .then((found) => process.stdout.write(`${found.server}\n${found.sql}\n${found.postgresSchemaDir}\n`))
  .catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  });
