/** Why one attempt of a task failed, and whether trying again could help. */
export type AttemptFailureKind = 'sql' | 'timeout' | 'test' | 'conflict' | 'cancelled' | 'definition';

export class AttemptFailure extends Error {
  constructor(
    readonly kind: AttemptFailureKind,
    message: string,
    readonly context: Record<string, unknown>,
  ) {
    super(message);
  }

  /** A failed assertion or a mistake in the task file is deterministic: retrying would only repeat it. */
  get retryable(): boolean {
    return this.kind !== 'test' && this.kind !== 'cancelled' && this.kind !== 'definition';
  }
}
