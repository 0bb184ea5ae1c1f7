// Client for the Lambda Runtime API (2018-06-01) at AWS_LAMBDA_RUNTIME_API.
//
// One keep-alive agent: requests are sequential, so they share one socket. No request
// has a timeout: `GET /next` legitimately blocks for as long as the environment is idle
// (or frozen). An idle pooled socket does not keep the event loop alive, which is what
// lets `callbackWaitsForEmptyEventLoop` observe the user's event loop draining.

import http from 'node:http';

const PREFIX = '/2018-06-01/runtime';
const JSON_TYPE = 'application/json';

export class RuntimeApiError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} answered ${status}: ${body}`);
    this.status = status;
  }
}

function parseAddress(address) {
  if (!address) throw new Error('AWS_LAMBDA_RUNTIME_API is not set');
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'); // [::1]:9001
  return { host, port: Number(address.slice(colon + 1)) };
}

export class RuntimeApi {
  constructor(address = process.env.AWS_LAMBDA_RUNTIME_API) {
    const { host, port } = parseAddress(address);
    this.host = host;
    this.port = port;
    this.agent = new http.Agent({ keepAlive: true, maxFreeSockets: 1 });
  }

  /** Blocks until the next event: `{headers, body}` with lower-cased header names. */
  async next() {
    const res = await this.request('GET', `${PREFIX}/invocation/next`);
    if (res.status !== 200) throw new RuntimeApiError('GET', 'next', res.status, res.body);
    if (!res.headers['lambda-runtime-aws-request-id']) {
      throw new Error('GET next answered without Lambda-Runtime-Aws-Request-Id');
    }
    return res;
  }

  postResponse(id, payload) {
    return this.request('POST', `${PREFIX}/invocation/${encodeURIComponent(id)}/response`,
      { 'Content-Type': JSON_TYPE }, payload);
  }

  postError(id, body) {
    return this.request('POST', `${PREFIX}/invocation/${encodeURIComponent(id)}/error`,
      { 'Content-Type': JSON_TYPE }, JSON.stringify(body));
  }

  postInitError(body) {
    return this.request('POST', `${PREFIX}/init/error`,
      { 'Content-Type': JSON_TYPE, 'Lambda-Runtime-Function-Error-Type': body.errorType }, JSON.stringify(body));
  }

  /** Opens a request whose body the caller streams (response streaming). */
  open(method, path, headers) {
    return http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent });
  }

  /** One buffered exchange; resolves `{status, headers, body}` whatever the status. */
  request(method, path, headers = {}, body = undefined, retried = false) {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(body);
      const all = payload ? { ...headers, 'Content-Length': payload.length } : headers;
      const req = this.open(method, path, all);
      req.on('response', (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (err) => {
        // The server may close a pooled socket just as we reuse it: retry once on a new one.
        if (req.reusedSocket && err.code === 'ECONNRESET' && !retried) {
          resolve(this.request(method, path, headers, body, true));
        } else {
          reject(err);
        }
      });
      req.end(payload);
    });
  }
}
