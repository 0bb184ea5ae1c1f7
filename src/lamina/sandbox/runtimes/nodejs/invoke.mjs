// One invocation: call the handler, decide when it has finished, report the outcome.
//
// How an invocation ends, as on Lambda:
//  - the returned promise settles                       → report at once;
//  - callback(err, value)                               → report when the event loop is
//    empty, or at once if context.callbackWaitsForEmptyEventLoop is false;
//  - context.succeed / fail / done                      → report at once;
//  - none of these and the event loop drains            → success with `null`.
// Only the first outcome counts.

import { buildContext } from './context.mjs';
import { errorBody, errorLogRecord, RuntimeError } from './errors.mjs';
import { logError, setRequestId } from './logging.mjs';
import { RuntimeApiError } from './rapid.mjs';
import { isStreamingHandler, ResponseStream, streamingOptions } from './streaming.mjs';

let current = null; // the invocation whose outcome is still unreported

/** The invocation in flight, if any (used by the crash handlers). */
export function currentInvocation() {
  return current;
}

// 'beforeExit' fires each time the event loop runs dry; that is "the loop is empty".
process.on('beforeExit', () => current?.eventLoopEmpty());

/** A 5xx means the Runtime API is broken: stop. 4xx (late, duplicate, too large) are the platform's to report. */
function checkAccepted(res, what) {
  if (res.status >= 500) throw new RuntimeApiError('POST', what, res.status, res.body);
}

class Invocation {
  constructor(api, id) {
    this.api = api;
    this.id = id;
    this.settled = false;
    this.pending = null; // a callback outcome waiting for the empty event loop
    this.stream = null;
    this.done = new Promise((resolve, reject) => {
      this._done = { resolve, reject };
    });
  }

  /** Takes the right to report; false if an outcome was already chosen. */
  claim() {
    if (this.settled) return false;
    this.settled = true;
    if (current === this) current = null;
    return true;
  }

  finish(outcome) {
    if (!this.claim()) return;
    const sent = 'error' in outcome ? this.sendError(outcome.error) : this.sendValue(outcome.value);
    sent.then(this._done.resolve, this._done.reject);
  }

  callback(outcome, waitForEmptyLoop) {
    if (this.settled || this.pending) return;
    if (waitForEmptyLoop) this.pending = outcome;
    else this.finish(outcome);
  }

  eventLoopEmpty() {
    this.finish(this.pending ?? { value: undefined });
  }

  async sendValue(value) {
    if (this.stream) {
      if (!this.stream.writableEnded) this.stream.end();
      return checkAccepted(await this.stream.responded, 'response');
    }
    let payload;
    try {
      payload = JSON.stringify(value === undefined ? null : value) ?? 'null';
    } catch {
      return this.sendError(new RuntimeError('Runtime.JSONStringifyError', 'Unable to stringify response body'));
    }
    return checkAccepted(await this.api.postResponse(this.id, payload), 'response');
  }

  async sendError(error) {
    logError('Invoke Error', errorLogRecord(error), error);
    return this.report(errorBody(error));
  }

  /** Posts an error body: to /error, or in the trailers once a stream has started. */
  async report(body) {
    if (this.stream?.started) return checkAccepted(await this.stream.abort(body), 'response');
    this.stream?.destroy();
    return checkAccepted(await this.api.postError(this.id, body), 'error');
  }
}

function setTraceId(traceId) {
  if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
  else delete process.env._X_AMZN_TRACE_ID;
}

/** Runs the handler on one event from /next; resolves once the outcome is posted. */
export function invoke(api, handler, { headers, body }) {
  const id = headers['lambda-runtime-aws-request-id'];
  const inv = new Invocation(api, id);
  current = inv;
  setRequestId(id);
  setTraceId(headers['lambda-runtime-trace-id']);

  let event;
  let context;
  try {
    event = JSON.parse(body);
    context = buildContext(headers, (outcome) => inv.finish(outcome));
  } catch (err) {
    inv.finish({ error: new RuntimeError('Runtime.UnmarshalError', `Unable to parse the invocation: ${err.message}`) });
    return inv.done;
  }

  let result;
  try {
    if (isStreamingHandler(handler)) {
      inv.stream = new ResponseStream((h) => api.open('POST', `/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/response`, h),
        streamingOptions(handler));
      result = handler(event, inv.stream, context);
    } else {
      const callback = (error, value) => inv.callback(error != null ? { error } : { value },
        context.callbackWaitsForEmptyEventLoop);
      result = handler(event, context, callback);
    }
  } catch (error) {
    inv.finish({ error });
    return inv.done;
  }
  if (result !== null && typeof result?.then === 'function') {
    result.then((value) => inv.finish({ value }), (error) => inv.finish({ error }));
  }
  return inv.done;
}
