/** A bad `npm run replay-outbox` command line (the message says what to pass). */
export class ReplayUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayUsageError';
  }
}
