// npm run worker: the Temporal worker alone (workflows and tools), against TEMPORAL_ADDRESS.
import { runRole } from './run';

void runRole('worker');
