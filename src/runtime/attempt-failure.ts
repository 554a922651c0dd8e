/**
 * Why one attempt of a task failed, and whether trying again could help.
 *
 * `function`: a function task threw (retryable, like a SQL error); `result`: it returned
 * something that is not JSON (deterministic, so not retried).
 */
export type AttemptFailureKind = 'sql' | 'timeout' | 'test' | 'check' | 'conflict' | 'cancelled' | 'definition' | 'function' | 'result';

export class AttemptFailure extends Error {
  constructor(
    readonly kind: AttemptFailureKind,
    message: string,
    readonly context: Record<string, unknown>,
  ) {
    super(message);
  }

  /** A failed assertion or check, a mistake in the task file or a result that is not JSON is deterministic: retrying would only repeat it. */
  get retryable(): boolean {
    return (
      this.kind !== 'test' && this.kind !== 'check' && this.kind !== 'cancelled' && this.kind !== 'definition' && this.kind !== 'result'
    );
  }
}
