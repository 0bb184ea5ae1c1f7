// console.* in Lambda's formats.
//
// Text (default): `<ISO time>\t<request id>\t<LEVEL>\t<message>\n`. The platform cuts
// records at `\n`, so newlines inside one message become `\r` and the message stays
// one record. Before the first invoke the request id prints as `undefined`, as on Lambda.
//
// JSON (AWS_LAMBDA_LOG_FORMAT=JSON): one object per line,
// `{"timestamp","level","requestId","message"}` plus `errorType`, `errorMessage` and
// `stackTrace` when an Error is logged. Only here does AWS_LAMBDA_LOG_LEVEL filter.

import { format } from 'node:util';
import { errorBody, isErrorLike } from './errors.mjs';

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

// console method → level; `fatal` is Lambda's addition to the console.
const METHODS = { trace: 'TRACE', debug: 'DEBUG', log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'FATAL' };

let requestId; // the current (or last) invocation's id; undefined during init
let emit = textRecord;
let minLevel = 0;

export function setRequestId(id) {
  requestId = id;
}

// Written synchronously (stdout is a pipe or file in the sandbox), so a line logged
// just before process.exit() is never lost.
const write = (line) => process.stdout.write(line);

function textRecord(level, message) {
  write(`${new Date().toISOString()}\t${requestId}\t${level}\t${message.replace(/\n/g, '\r')}\n`);
}

function jsonRecord(level, message, error) {
  const record = { timestamp: new Date().toISOString(), level, requestId, message };
  if (error !== undefined) {
    const { errorType, errorMessage, trace } = errorBody(error);
    Object.assign(record, { errorType, errorMessage, stackTrace: trace });
  }
  write(`${JSON.stringify(record)}\n`);
}

function enabled(level) {
  return LEVELS.indexOf(level) >= minLevel;
}

/** Replace the console methods; call once, before user code loads. */
export function patchConsole(env = process.env) {
  const json = String(env.AWS_LAMBDA_LOG_FORMAT ?? '').toUpperCase() === 'JSON';
  emit = json ? jsonRecord : textRecord;
  // An unset or unknown level filters nothing, so no line is ever lost by misconfiguration.
  minLevel = json ? Math.max(0, LEVELS.indexOf(String(env.AWS_LAMBDA_LOG_LEVEL ?? '').toUpperCase())) : 0;
  for (const [method, level] of Object.entries(METHODS)) {
    console[method] = enabled(level)
      ? (...args) => emit(level, format(...args), args.find(isErrorLike))
      : () => {};
  }
}

/**
 * A runtime-generated error line ("Invoke Error", "Uncaught Exception", ...), at ERROR.
 * Text: `<label> \t<JSON of the error with a stack array>`; JSON: the label as message
 * with the error fields beside it.
 */
export function logError(label, record, error) {
  if (!enabled('ERROR')) return;
  if (emit === jsonRecord) {
    jsonRecord('ERROR', label, error);
  } else {
    textRecord('ERROR', `${label} \t${JSON.stringify(record)}`);
  }
}
