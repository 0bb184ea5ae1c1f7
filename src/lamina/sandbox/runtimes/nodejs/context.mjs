// The context object handed to the handler (Lambda's Node.js field names).

function optionalJson(header) {
  // Absent headers leave the field undefined, as on Lambda; the platform only sends JSON.
  return header === undefined || header === '' ? undefined : JSON.parse(header);
}

/**
 * `finish` ends the invocation at once (context.succeed/fail/done: no waiting for the
 * event loop, unlike the callback).
 */
export function buildContext(headers, finish, env = process.env) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, // a string, as on Lambda
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: optionalJson(headers['lambda-runtime-cognito-identity']),
    clientContext: optionalJson(headers['lambda-runtime-client-context']),
    // May go negative once the deadline has passed (Lambda's Node runtime does not clamp).
    getRemainingTimeInMillis: () => deadline - Date.now(),
    succeed: (value) => finish({ value }),
    fail: (error) => finish({ error: error ?? 'handled' }),
    done: (error, value) => finish(error != null ? { error } : { value }),
  };
  const tenantId = headers['lambda-runtime-aws-tenant-id'];
  if (tenantId) context.tenantId = tenantId;
  return context;
}
