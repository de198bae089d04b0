"""Command line of the local stack: ``python -m vitals_stack {fetch,up,down,status}``."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time

from vitals_stack import lifecycle
from vitals_stack.errors import StackError
from vitals_stack.settings import StackSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitals-stack",
        description="Run the pipeline's local services (Kafka, HDFS, Hive metastore, HBase, moto) on 127.0.0.1. "
        "Settings come from STACK_* environment variables; see stack/README.md.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)

    fetch = commands.add_parser("fetch", help="download the jars with Maven into STACK_JARS",
                                description="Download every component's jars with Maven into "
                                "STACK_JARS/<component>/; a component whose jars are complete is skipped.")
    fetch.add_argument("--force", action="store_true", help="download again even when the jars are present")

    up = commands.add_parser("up", help="start the stack and wait until it is ready",
                             description="Start the components (fetching jars first if missing) and wait "
                             "until each is ready. Running, ready components are left alone.")
    up.add_argument("--only", metavar="NAMES",
                    help="comma-separated components to start, plus their dependencies "
                    f"(choices: {','.join(lifecycle.ORDER)}; metastore also starts hdfs)")

    down = commands.add_parser("down", help="stop every component",
                               description="Stop every component: SIGTERM to its process group, "
                               "then SIGKILL after a grace period. Also cleans up after stale pid files.")
    down.add_argument("--wipe", action="store_true", help="also delete STACK_HOME (all data and logs)")

    commands.add_parser("status", help="show pid, port and readiness of each component",
                        description="Print a table of each component's pid, main port and readiness.")
    env = commands.add_parser("env", help="print the variables that point a stage at this stack",
                              description="Print `export` lines that point the stages at this stack's "
                              "addresses and ports, e.g. `eval \"$(python -m vitals_stack env producer)\"` "
                              "before running vitals-producer by hand. The stages' own defaults are "
                              "the stack's default ports, so this matters once STACK_* ports change.")
    env.add_argument("stage", nargs="?", choices=["producer", "ingest", "alerter", "notifier"],
                     help="one stage (default: the variables of all four)")
    return parser


def print_status(settings: StackSettings) -> bool:
    rows = lifecycle.status(settings)
    print(f"{'component':<10} {'pid':<14} {'port':<6} ready")
    for row in rows:
        print(f"{row.component:<10} {row.pid:<14} {row.port:<6} {'yes' if row.ready else 'no'}")
    return all(row.ready for row in rows)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = StackSettings()
    started = time.monotonic()
    try:
        if args.command == "fetch":
            lifecycle.fetch_all(settings, force=args.force)
            print(f"jars in {settings.jars} ({time.monotonic() - started:.1f} s)")
        elif args.command == "up":
            only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else None
            for line in lifecycle.up(settings, only):
                print(line)
            print(f"stack up in {time.monotonic() - started:.1f} s")
        elif args.command == "down":
            for line in lifecycle.down(settings, wipe=args.wipe):
                print(line)
            print("stack down")
        elif args.command == "status":
            return 0 if print_status(settings) else 3
        elif args.command == "env":
            from vitals_stack.pipeline import STAGE_COMMANDS, stage_env

            for stage in [args.stage] if args.stage else list(STAGE_COMMANDS):
                for key, value in stage_env(settings, stage).items():
                    print(f"export {key}={shlex.quote(value)}")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run 'python -m vitals_stack down' to stop what was started", file=sys.stderr)
        return 130
    return 0
