// The Holdline server (`npm run server`) in a process of its own, serving the
// long bench tool, so its CPU is measured apart from the workers, Temporal and
// the load. Everything else comes from the environment the bench sets.
import { runHoldline } from '../../src/cli/run';
import { benchLongProgressTool } from './long-tool';

void runHoldline({ role: 'server', tools: [benchLongProgressTool()] });
