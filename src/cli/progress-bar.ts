import { SingleBar } from 'cli-progress';
import type { ToolProgress } from '../contracts/envelope';

/** Where a running call's progress is shown to a person. */
export interface ProgressView {
  update(progress: ToolProgress): void;
  stop(): void;
}

/**
 * A progress bar on stderr (stdout stays for the envelope) when stderr is a
 * terminal; otherwise one line per new stage or percentage, so a log file
 * still tells the story.
 */
export function progressView(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (!stream.isTTY) {
    let last = '';
    return {
      update: (progress) => {
        const line = `${String(Math.round(progress.pct)).padStart(3)}% ${progress.stage}: ${progress.message}`;
        if (line !== last) stream.write(`${line}\n`);
        last = line;
      },
      stop: () => undefined,
    };
  }
  const bar = new SingleBar({
    stream,
    format: '{bar} {percentage}% | {stage}: {message}',
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    hideCursor: true,
    clearOnComplete: false,
  });
  let started = false;
  return {
    update: (progress) => {
      const payload = { stage: progress.stage, message: progress.message };
      if (!started) bar.start(100, Math.round(progress.pct), payload);
      else bar.update(Math.round(progress.pct), payload);
      started = true;
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
