import type { Command } from 'commander';
import { actCommand } from './act';
import { callCommand } from './call';
import { callsCommand } from './calls';
import { deploymentCommand } from './deployment';
import { recordCommand } from './record';
import { replayCommand } from './replay';
import { talkCommand } from './talk';
import { toolsCommand } from './tools';
import { watchCommand } from './watch';

/** The commands that talk to a running Holdline (its HTTP API) or read Temporal (replay, record). */
export function addClientCommands(program: Command): void {
  for (const command of [
    toolsCommand(),
    callCommand(),
    callsCommand(),
    watchCommand(),
    actCommand('approve'),
    actCommand('deny'),
    actCommand('cancel'),
    talkCommand(),
    replayCommand(),
    recordCommand(),
    deploymentCommand(),
  ]) {
    // Exit codes and usage hints as the program's own (addCommand does not pass them on).
    program.addCommand(command.copyInheritedSettings(program));
  }
}
