// The Holdline server (`npm run server`) in a process of its own for the realtime load,
// with one addition for the benchmark: asked over IPC, it collects garbage and
// reports its memory, so growth is told apart from garbage not yet collected.
import { runRole } from '../src/cli/run';
import { answerMemoryRequests } from './memory-probe';

answerMemoryRequests();

void runRole('server');
