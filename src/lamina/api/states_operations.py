"""Which Step Functions service method answers each AWSStepFunctions operation."""

from __future__ import annotations

from lamina.api.lambda_rest import OperationHandler
from lamina.states.service.stepfunctions import StepFunctions


def states_operations(sfn: StepFunctions) -> dict[str, OperationHandler]:
    machines, executions, activities, tags = sfn.machines_api, sfn.executions_api, sfn.activities_api, sfn.tags_api
    return {
        "CreateStateMachine": machines.create_state_machine,
        "DescribeStateMachine": machines.describe_state_machine,
        "UpdateStateMachine": machines.update_state_machine,
        "DeleteStateMachine": machines.delete_state_machine,
        "ListStateMachines": machines.list_state_machines,
        "ValidateStateMachineDefinition": machines.validate_state_machine_definition,
        "DescribeStateMachineForExecution": machines.describe_state_machine_for_execution,
        "StartExecution": executions.start_execution,
        "StartSyncExecution": executions.start_sync_execution,
        "DescribeExecution": executions.describe_execution,
        "StopExecution": executions.stop_execution,
        "ListExecutions": executions.list_executions,
        "GetExecutionHistory": executions.get_execution_history,
        "SendTaskSuccess": executions.send_task_success,
        "SendTaskFailure": executions.send_task_failure,
        "SendTaskHeartbeat": executions.send_task_heartbeat,
        "CreateActivity": activities.create_activity,
        "DescribeActivity": activities.describe_activity,
        "DeleteActivity": activities.delete_activity,
        "ListActivities": activities.list_activities,
        "GetActivityTask": activities.get_activity_task,
        "TagResource": tags.tag_resource,
        "UntagResource": tags.untag_resource,
        "ListTagsForResource": tags.list_tags_for_resource,
    }
