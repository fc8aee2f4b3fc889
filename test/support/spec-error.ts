import { SpecError } from '../../src/spec/problems';

/** The SpecError `build` throws; any other outcome (another error, or none) fails the test. */
export function specErrorOf(build: () => unknown): SpecError {
  try {
    build();
  } catch (error) {
    if (error instanceof SpecError) return error;
    throw error;
  }
  throw new Error('expected a SpecError, but the props were accepted');
}
