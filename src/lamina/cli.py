"""The `lamina` command."""

from __future__ import annotations

import argparse
import sys

from lamina.config import SETTINGS, load_config


def _serve(args: argparse.Namespace) -> None:
    from lamina.server import serve

    config = load_config({"host": args.host, "port": args.port, "data_dir": args.data_dir,
                          "dev": True if args.dev else None}, args.config)
    serve(config)


def _logs(args: argparse.Namespace) -> None:
    from lamina.logs_cli import print_function_logs

    print_function_logs(args.function, endpoint_url=args.endpoint_url, region=args.region, follow=args.follow,
                        since_seconds=args.since)


def _async(args: argparse.Namespace) -> None:
    from lamina.async_cli import print_async_status

    print_async_status(args.function, endpoint_url=args.endpoint_url, region=args.region, as_json=args.json)


def _metrics(args: argparse.Namespace) -> None:
    from lamina.metrics_cli import print_metrics

    print_metrics(args.function, endpoint_url=args.endpoint_url, region=args.region, as_json=args.json)


def _settings(_: argparse.Namespace) -> None:
    print("| setting | environment variable | default | meaning |")
    print("|---|---|---|---|")
    for s in SETTINGS:
        default = "" if s.default == "" else f"`{s.default}`"
        print(f"| `{s.name}` | `{s.env_var}` | {default} | {s.help} |")


def _client_options(command: argparse.ArgumentParser, per_function: bool = True) -> None:
    """What every command that talks to a running lamina takes."""
    if per_function:
        command.add_argument("--function", help="only this function")
        command.add_argument("--json", action="store_true", help="print the raw document")
    command.add_argument("--endpoint-url", help="lamina's URL (default http://$LAMINA_HOST:$LAMINA_PORT)")
    command.add_argument("--region", help="region (default $AWS_DEFAULT_REGION or lamina's default region)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lamina", description="Self-hosted AWS Lambda.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the lamina server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 9600)")
    serve.add_argument("--data-dir", help="state directory (default $LAMINA_DATA_DIR or ~/.lamina)")
    serve.add_argument("--config", help="settings file (default $LAMINA_CONFIG or ./lamina.toml)")
    serve.add_argument("--dev", action="store_true", help="expose POST /_lamina/reset, which wipes all state")
    serve.set_defaults(func=_serve)

    logs = commands.add_parser("logs", help="print a function's logs (START/END/REPORT and its output)")
    logs.add_argument("function", help="function name or ARN")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new events as they arrive")
    logs.add_argument("--since", type=float, metavar="SECONDS", help="only events newer than this many seconds")
    _client_options(logs, per_function=False)
    logs.set_defaults(func=_logs)

    queue = commands.add_parser("async", help="asynchronous events: queued, in flight, retrying, failed")
    _client_options(queue)
    queue.set_defaults(func=_async)

    metrics = commands.add_parser("metrics", help="the AWS/Lambda metrics lamina counts, per function")
    _client_options(metrics)
    metrics.set_defaults(func=_metrics)

    settings = commands.add_parser("settings", help="print every setting as a table")
    settings.set_defaults(func=_settings)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ValueError as e:
        print(f"lamina: {e}", file=sys.stderr)
        sys.exit(2)
