import { modelCommands, type ModelCommand } from './protocol';

/**
 * Keeps Holdline from talking over the model. A realtime model accepts one
 * `response.create` at a time, and spoken progress must wait while the model
 * speaks; this tracks whether a response is under way and holds requests
 * until it is done.
 */
export class ModelTurns {
  private responding = false;
  private wanted = false;

  constructor(private readonly send: (command: ModelCommand) => void) {}

  /** True while a response is being generated or has been asked for. */
  get busy(): boolean {
    return this.responding;
  }

  /** Asks the model to respond now, or as soon as its current response is done. */
  requestResponse(): void {
    if (this.responding) {
      this.wanted = true;
      return;
    }
    this.responding = true;
    this.send(modelCommands.respond());
  }

  responseStarted(): void {
    this.responding = true;
  }

  responseDone(): void {
    this.responding = false;
    if (this.wanted) {
      this.wanted = false;
      this.requestResponse();
    }
  }

  /** A new model connection knows nothing of the old one's responses. */
  reset(): void {
    this.responding = false;
    this.wanted = false;
  }
}
