import { setTimeout as delay } from 'node:timers/promises';
import { isGrpcServiceError, type Client } from '@temporalio/client';

/**
 * Rolling a Worker Deployment forward and back: which version takes new calls
 * (the current one), and how many calls each version still runs. A call runs
 * on the version that was current when it started (its workers pin it), so a
 * version may stop once it runs none.
 */

export interface DeploymentVersionState {
  buildId: string;
  /** Server-side drainage: DRAINING while pinned calls may remain, DRAINED once none do (refreshed every few minutes). */
  drainage?: string;
  /** Calls still running on this version, from visibility (seconds behind at most). */
  running: number;
}

export interface DeploymentState {
  name: string;
  /** The build id that takes new calls; undefined: unversioned workers do. */
  currentBuildId?: string;
  versions: DeploymentVersionState[];
}

export class DeploymentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Makes `buildId` the current version of `deploymentName`: new calls start on
 * it, calls already running stay where they are. Temporal refuses a version no
 * worker has polled as yet; that is retried until `timeoutMs`, since a worker
 * just started may not have reached the server. Returns the build id that was
 * current before (undefined: unversioned), to roll back to.
 */
export async function setCurrentVersion(
  client: Client,
  deploymentName: string,
  buildId: string,
  { timeoutMs = 30_000, identity = 'holdline' }: { timeoutMs?: number; identity?: string } = {},
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const answer = await client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: client.options.namespace,
        deploymentName,
        buildId,
        identity,
      });
      return answer.previousDeploymentVersion?.buildId || undefined;
    } catch (error) {
      if (!notPolledYet(error) || Date.now() > deadline) {
        throw new DeploymentError(`could not make ${deploymentName} ${buildId} current: ${(error as Error).message}`);
      }
      await delay(250);
    }
  }
}

/** The deployment's current version and, per version, its drainage and the calls it still runs. */
export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentState> {
  const namespace = client.options.namespace;
  let described;
  try {
    described = await client.workflowService.describeWorkerDeployment({ namespace, deploymentName });
  } catch (error) {
    if (isGrpcServiceError(error) && error.code === NOT_FOUND) throw new DeploymentError(`no worker deployment named ${deploymentName}: no versioned worker has polled yet`);
    throw error;
  }
  const info = described.workerDeploymentInfo;
  const versions: DeploymentVersionState[] = [];
  for (const summary of info?.versionSummaries ?? []) {
    const versionBuildId = summary.deploymentVersion?.buildId;
    if (!versionBuildId) continue;
    versions.push({
      buildId: versionBuildId,
      ...(summary.drainageStatus ? { drainage: drainageName(summary.drainageStatus) } : {}),
      running: await runningOn(client, deploymentName, versionBuildId),
    });
  }
  const current = info?.routingConfig?.currentDeploymentVersion?.buildId;
  return { name: deploymentName, ...(current ? { currentBuildId: current } : {}), versions };
}

/** How many workflows pinned to (or last run on) this version are still running, from visibility. */
export async function runningOn(client: Client, deploymentName: string, buildId: string): Promise<number> {
  const { count } = await client.workflow.count(
    `TemporalWorkerDeploymentVersion = '${quote(deploymentName)}:${quote(buildId)}' AND ExecutionStatus = 'Running'`,
  );
  return count;
}

// gRPC status codes (grpc-js is not a direct dependency).
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;

function quote(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

/** Temporal answers FAILED_PRECONDITION or NOT_FOUND while no worker of the version has polled. */
function notPolledYet(error: unknown): boolean {
  return isGrpcServiceError(error) && (error.code === FAILED_PRECONDITION || error.code === NOT_FOUND);
}

const DRAINAGE = ['UNSPECIFIED', 'DRAINING', 'DRAINED'];
function drainageName(value: number): string {
  return DRAINAGE[value] ?? String(value);
}
