import { SwitchyardError } from '@switchyard/core';

/**
 * A test service could not be installed, started or reached. The message says what to run or
 * install; `cause` carries the underlying failure (exit code, log tail, connection error).
 */
export class ServiceUnavailableError extends SwitchyardError {
  readonly service: string;
  constructor(service: string, message: string, cause?: unknown) {
    super('SWITCHYARD_SERVICE_UNAVAILABLE', `${service}: ${message}`, {
      cause,
      retryable: false,
      details: { service },
    });
    this.name = 'ServiceUnavailableError';
    this.service = service;
  }
}
