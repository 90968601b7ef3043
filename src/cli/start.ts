// npm start: the embedded Temporal dev server (unless TEMPORAL_ADDRESS is set), a worker and the HTTP server.
import { runRole } from './run';

void runRole('all');
