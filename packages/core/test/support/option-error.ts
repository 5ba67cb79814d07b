// A copy of @switchyard/testing's optionError: core cannot depend on the testing package (it depends on core).
import { InvalidOptionError } from '../../src/errors.js';

/** The InvalidOptionError `run` throws (anything else fails the test). */
export function optionError(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}
