// Response streaming: the `awslambda` global Lambda provides to Node.js functions.
//
//   export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {...});
//
// The response is POSTed to /response while the handler writes it, chunked, with
// `Lambda-Runtime-Function-Response-Mode: streaming`. An error after the first byte
// cannot become a normal /error any more, so it travels in the request's trailers:
// `Lambda-Runtime-Function-Error-Type` and `...-Error-Body` (base64 of the error JSON).

import { Writable } from 'node:stream';

const STREAMING = Symbol.for('lamina.nodejs.streamingHandler');
const OPTIONS = Symbol.for('lamina.nodejs.streamingOptions');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
const TRAILERS = ['Lambda-Runtime-Function-Error-Type', 'Lambda-Runtime-Function-Error-Body'];

export function isStreamingHandler(fn) {
  return fn?.[STREAMING] === true;
}

export function streamingOptions(fn) {
  return fn?.[OPTIONS] ?? {};
}

/** The body of one streamed response; opens the HTTP request on the first byte. */
export class ResponseStream extends Writable {
  constructor(open, options = {}) {
    super({ highWaterMark: options.highWaterMark });
    this.contentType = 'application/octet-stream';
    this.request = null;
    this.aborted = false;
    this._open = open;
    // Settles with the Runtime API's answer once the whole body has been sent.
    this.responded = new Promise((resolve, reject) => {
      this._responded = { resolve, reject };
    });
  }

  get started() {
    return this.request !== null;
  }

  setContentType(type) {
    if (this.started) throw new Error('setContentType must be called before the first write');
    this.contentType = type;
  }

  _request() {
    if (!this.request) {
      this.request = this._open({
        'Content-Type': this.contentType,
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        Trailer: TRAILERS.join(', '),
      });
      this.request.on('response', (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => this._responded.resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      });
      this.request.on('error', (err) => this._responded.reject(err));
    }
    return this.request;
  }

  _write(chunk, _encoding, callback) {
    if (this.aborted) return callback();
    if (this._request().write(chunk)) callback();
    else this.request.once('drain', callback);
  }

  _final(callback) {
    if (!this.aborted) this._request().end();
    callback();
  }

  /** Ends the body with the error in the trailers (only once started). */
  abort(errorBody) {
    this.aborted = true;
    const req = this._request();
    req.addTrailers({
      [TRAILERS[0]]: errorBody.errorType,
      [TRAILERS[1]]: Buffer.from(JSON.stringify(errorBody)).toString('base64'),
    });
    req.end();
    return this.responded;
  }
}

/** Writes the function-URL prelude (status, headers, cookies) ahead of the body. */
class HttpResponseStream {
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION);
    stream.write(JSON.stringify(prelude ?? {}));
    stream.write(Buffer.alloc(8)); // eight NUL bytes end the prelude
    return stream;
  }
}

function streamifyResponse(handler, options) {
  handler[STREAMING] = true;
  handler[OPTIONS] = options;
  return handler;
}

export function installGlobal() {
  globalThis.awslambda = { streamifyResponse, HttpResponseStream };
}
