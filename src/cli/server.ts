// npm run server: the HTTP API and gateway alone, against TEMPORAL_ADDRESS; scale out beside workers.
import { runRole } from './run';

void runRole('server');
