"""Which LogsService method answers each CloudWatch Logs operation."""

from __future__ import annotations

from lamina.api.lambda_rest import OperationHandler
from lamina.observability.logs_service import LogsService


def logs_operations(logs: LogsService) -> dict[str, OperationHandler]:
    return {
        "CreateLogGroup": logs.create_log_group,
        "DeleteLogGroup": logs.delete_log_group,
        "DescribeLogGroups": logs.describe_log_groups,
        "CreateLogStream": logs.create_log_stream,
        "DeleteLogStream": logs.delete_log_stream,
        "DescribeLogStreams": logs.describe_log_streams,
        "PutLogEvents": logs.put_log_events,
        "GetLogEvents": logs.get_log_events,
        "FilterLogEvents": logs.filter_log_events,
        "PutRetentionPolicy": logs.put_retention_policy,
        "DeleteRetentionPolicy": logs.delete_retention_policy,
    }
