/** A bench scenario got an answer it cannot measure: the run stops and says what came back. */
export class BenchError extends Error {}
