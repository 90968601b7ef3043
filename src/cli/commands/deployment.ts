import { Command } from 'commander';
import { loadConfig } from '../../runtime/config';
import { DeploymentError, describeDeployment, setCurrentVersion } from '../../temporal/deployments';
import { CliError, EXIT } from '../exit-codes';
import { action, printJson, printLine, printTable } from '../output';
import { connectTemporal, withTemporal, type TemporalOptions } from '../temporal-client';

type DeploymentOptions = TemporalOptions & { name?: string; json?: boolean };

/**
 * `holdline deployment status` and `holdline deployment current <build-id>`:
 * roll workers run with HOLDLINE_DEPLOYMENT_NAME and HOLDLINE_BUILD_ID forward
 * and back. The same as `temporal worker deployment describe` and
 * `set-current-version`, plus how many calls each version still runs.
 */
export function deploymentCommand(): Command {
  const command = new Command('deployment').description('Worker versions: which one takes new calls, and which still run calls (workers started with HOLDLINE_BUILD_ID)');
  command.addCommand(
    withName(withTemporal(new Command('status')))
      .description('Show the current version and, per version, the calls it still runs; a version running none may stop')
      .option('--json', 'print one JSON object')
      .action(
        action(async (options: DeploymentOptions) => {
          const client = await connectTemporal(options);
          const state = await orCliError(describeDeployment(client, nameOf(options)));
          if (options.json) return printJson(state);
          printLine(`deployment ${state.name}: new calls start on ${state.currentBuildId ?? 'unversioned workers'}`);
          printTable(
            ['BUILD ID', 'CURRENT', 'RUNNING CALLS', 'DRAINAGE'],
            state.versions.map((version) => [version.buildId, version.buildId === state.currentBuildId ? 'yes' : '', String(version.running), version.drainage ?? '']),
          );
        }),
      ),
  );
  command.addCommand(
    withName(withTemporal(new Command('current')))
      .description('Make a version current: new calls start on it, calls in flight finish on their own version')
      .argument('<build-id>', 'the HOLDLINE_BUILD_ID of running workers (to roll back: the previous one, still running)')
      .option('--wait <seconds>', 'how long to wait for a worker of that version to reach Temporal', '30')
      .option('--json', 'print one JSON object')
      .action(
        action(async (buildId: string, options: DeploymentOptions & { wait: string }) => {
          const client = await connectTemporal(options);
          const name = nameOf(options);
          const previous = await orCliError(setCurrentVersion(client, name, buildId, { timeoutMs: Number(options.wait) * 1_000 }));
          if (options.json) return printJson({ deployment: name, current: buildId, previous: previous ?? null });
          printLine(`deployment ${name}: new calls start on ${buildId} (before: ${previous ?? 'unversioned workers'})`);
        }),
      ),
  );
  return command;
}

function withName(command: Command): Command {
  return command.option('--name <deployment>', 'the deployment (default: HOLDLINE_DEPLOYMENT_NAME)');
}

function nameOf(options: DeploymentOptions): string {
  const name = options.name ?? loadConfig().HOLDLINE_DEPLOYMENT_NAME;
  if (!name) throw new CliError('no deployment name: pass --name or set HOLDLINE_DEPLOYMENT_NAME', EXIT.usage);
  return name;
}

async function orCliError<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    if (error instanceof DeploymentError) throw new CliError(error.message, EXIT.failed);
    throw error;
  }
}
