// The Holdline server (`npm run server`) in a process of its own for the realtime load,
// with one addition for the benchmark: asked over IPC, it collects garbage and
// reports its memory, so growth is told apart from garbage not yet collected.
import supportDesk from '../examples/support-desk';
import { runHoldline } from '../src/cli/run';
import { answerMemoryRequests } from './memory-probe';

answerMemoryRequests();

void runHoldline({ role: 'server', tools: supportDesk });
