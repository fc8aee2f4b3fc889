/**
 * Interruption of a benchmark run: SIGINT/SIGTERM (and any stray exception) abort the current
 * wait, so the `finally` blocks that stop what the run started get to run.
 */
export interface Interruption {
  /** Awaits `work` unless the run is interrupted first. */
  guard<T>(work: Promise<T>): Promise<T>;
  /** Why the run was interrupted, once it was. */
  readonly reason: string | undefined;
  /** The exit code for an interrupted run: 130 after a signal, 1 after an error. */
  readonly exitCode: number;
}

/** Installs the handlers; `onInterrupt` runs once, first (e.g. kill running commands). */
export function handleInterruption(log: (line: string) => void, onInterrupt: () => void = () => undefined): Interruption {
  let reason: string | undefined;
  let rejectInterrupt: (error: Error) => void = () => undefined;
  const interruption = new Promise<never>((_, reject) => (rejectInterrupt = reject));
  interruption.catch(() => undefined);

  const interrupt = (why: string): void => {
    if (reason) {
      log(`(${why} again: still cleaning up, please wait)`);
      return;
    }
    reason = why;
    log(`${why}: stopping, tearing everything down`);
    onInterrupt();
    rejectInterrupt(new Error(`interrupted (${why})`));
  };
  process.on('SIGINT', () => interrupt('SIGINT'));
  process.on('SIGTERM', () => interrupt('SIGTERM'));
  process.on('uncaughtException', (error) => interrupt(`uncaught exception: ${error.stack ?? error.message}`));
  process.on('unhandledRejection', (error) => interrupt(`unhandled rejection: ${(error as Error)?.stack ?? String(error)}`));

  return {
    guard: <T>(work: Promise<T>) => (reason ? Promise.reject(new Error(`interrupted (${reason})`)) : Promise.race([work, interruption])),
    get reason() {
      return reason;
    },
    get exitCode() {
      return reason?.startsWith('SIG') ? 130 : 1;
    },
  };
}
