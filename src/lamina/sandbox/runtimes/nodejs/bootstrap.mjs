// lamina's managed Node.js runtime: the loop that runs inside an execution environment.
//
//   cd /var/task && node /var/runtime/bootstrap.mjs
//
// with _HANDLER and AWS_LAMBDA_RUNTIME_API set (see README.md). It patches the console,
// loads the handler, then serves events from the Runtime API until the process is
// killed. A failure to load is posted to /init/error; a crash (uncaught exception,
// unhandled rejection) is posted to the current invocation, or to /init/error during
// init, and ends the process: 129 for an exception, 128 for a rejection.

import { describeReason, errorBody, errorLogRecord, RuntimeError } from './errors.mjs';
import { currentInvocation, invoke } from './invoke.mjs';
import { loadHandler } from './loader.mjs';
import { logError, patchConsole } from './logging.mjs';
import { RuntimeApi } from './rapid.mjs';
import { installGlobal } from './streaming.mjs';

const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;

const api = new RuntimeApi();
let initialising = true;
let crashing = false;

/** Logs the error, reports it where the platform expects it, and exits. */
async function crash(label, error, exitCode, extra = {}) {
  if (crashing) return new Promise(() => {}); // the first crash exits the process
  crashing = true;
  logError(label, { ...errorLogRecord(error), ...extra }, error);
  const body = errorBody(error);
  try {
    if (initialising) {
      await api.postInitError(body);
    } else {
      const inv = currentInvocation();
      // Between invocations there is nobody to tell: the platform sees the exit.
      if (inv?.claim()) await inv.report(body);
    }
  } catch (err) {
    process.stderr.write(`lamina runtime: could not report the error: ${err.message}\n`);
  }
  process.exit(exitCode);
}

process.on('uncaughtException', (error) => crash('Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION));
process.on('unhandledRejection', (reason) => {
  const error = new RuntimeError('Runtime.UnhandledPromiseRejection', describeReason(reason));
  crash('Unhandled Promise Rejection', error, EXIT_UNHANDLED_REJECTION, { reason: errorLogRecord(reason), promise: {} });
});

patchConsole();
installGlobal();

let handler;
try {
  handler = await loadHandler(process.env._HANDLER, process.env.LAMBDA_TASK_ROOT || process.cwd());
} catch (error) {
  await crash('Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION);
}
initialising = false;

try {
  for (;;) {
    await invoke(api, handler, await api.next());
  }
} catch (err) {
  // The Runtime API itself failed (refused connection, 5xx): nothing left to serve.
  process.stderr.write(`lamina runtime: ${err.stack ?? err}\n`);
  process.exit(1);
}
