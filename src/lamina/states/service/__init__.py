"""The Step Functions service around the engine: resources, durable executions, the API.

`registry` holds state machines (with their revisions) and activities; `executions` drives
every execution through the engine's `Interpreter`, persisting each step (`store`) and
arming durable timers (`timers`); `task_runners` carries tasks out in-process (Lambda,
activities, child executions); `api` answers the AWSStepFunctions operations.
"""
