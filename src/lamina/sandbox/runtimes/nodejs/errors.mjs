// Error values as Lambda's Node.js runtime reports them.
//
// Two shapes exist on purpose: the body POSTed to the Runtime API carries `trace`,
// the JSON embedded in log lines carries `stack` (both arrays of stack lines).

import { types } from 'node:util';

/** An error raised by the runtime itself; `name` is the Lambda error type. */
export class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

export const ImportModuleError = (cause) => new RuntimeError('Runtime.ImportModuleError', String(cause));
export const HandlerNotFound = (message) => new RuntimeError('Runtime.HandlerNotFound', message);
export const MalformedHandlerName = (message) => new RuntimeError('Runtime.MalformedHandlerName', message);

export function UserCodeSyntaxError(cause) {
  const err = new RuntimeError('Runtime.UserCodeSyntaxError', String(cause));
  // Keep the original stack under our header: for CommonJS it starts with file:line,
  // the one thing a user needs to find the mistake.
  err.stack = `${err.name}: ${err.message}\n${cause.stack ?? ''}`.trimEnd();
  return err;
}

export function isErrorLike(value) {
  return types.isNativeError(value) || value instanceof Error;
}

function stackLines(err) {
  const stack = err.stack;
  return typeof stack === 'string' ? stack.split('\n') : [];
}

/** `{errorType, errorMessage, trace}` — the body of /error and /init/error. */
export function errorBody(value) {
  try {
    if (isErrorLike(value)) {
      return { errorType: String(value.name), errorMessage: String(value.message), trace: stackLines(value) };
    }
    // Lambda reports thrown non-errors by their JavaScript type: callback('x') → "string".
    return { errorType: typeof value, errorMessage: String(value), trace: [] };
  } catch {
    // A getter that throws, or a value String() cannot convert (Object.create(null)).
    return { errorType: 'handled', errorMessage: 'the error value could not be read (name, message or stack threw)', trace: [] };
  }
}

/** The same error in the shape Lambda embeds in log lines (`stack`, not `trace`). */
export function errorLogRecord(value) {
  const { errorType, errorMessage, trace } = errorBody(value);
  return { errorType, errorMessage, stack: trace };
}

/** Message of a Runtime.UnhandledPromiseRejection: "Error: boom" for errors, the value otherwise. */
export function describeReason(reason) {
  try {
    return String(reason);
  } catch {
    return typeof reason;
  }
}
