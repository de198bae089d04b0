"""`vitals-notifier`: publish each alert of the doctor topic once to SNS."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from confluent_kafka import KafkaException

from vitals_common.cli import parser_for
from vitals_common.errors import run_cli
from vitals_common.logs import configure_logging, log_settings

from vitals_notifier.consumer import DeadLetterFailed
from vitals_notifier.service import run_notifier
from vitals_notifier.settings import NotifierSettings
from vitals_notifier.sns_publisher import PublishAbandoned, PublishFailed

PROG = "vitals-notifier"
DESCRIPTION = (
    "Consume alerts from Kafka, publish each one to an SNS topic unless its alert id was already "
    "sent, and commit its offset only after SNS accepted it. Exit status: 0 after SIGTERM/SIGINT, "
    "1 when SNS or the dead-letter topic rejected a message (its offset stays uncommitted), 2 for "
    "invalid configuration or an unreachable dependency at start."
)

log = logging.getLogger("vitals_notifier")


def install_stop_handlers(stop_event: threading.Event) -> None:
    """Make SIGTERM and SIGINT finish the in-flight alert and stop; a second signal interrupts at once."""

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if stop_event.is_set():
            raise KeyboardInterrupt
        log.info("stop requested; finishing the in-flight alert", extra={"signal": signal.Signals(signum).name})
        stop_event.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def _run(args: argparse.Namespace) -> int:
    overrides = {"replay_from_beginning": True} if args.replay_from_beginning else {}
    settings = NotifierSettings(**overrides)
    configure_logging("notifier", settings.log_level, settings.log_format)
    log_settings(log, settings)
    stop_event = threading.Event()
    install_stop_handlers(stop_event)
    try:
        run_notifier(settings, stop_event)
    except PublishAbandoned as exc:
        log.info("stopped during SNS retries; the alert will be delivered again", extra={"error": str(exc)})
        return 0
    except (PublishFailed, DeadLetterFailed, KafkaException) as exc:
        log.error("notifier stopped without committing the current alert", extra={"error": str(exc)})
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(PROG, DESCRIPTION, NotifierSettings)
    parser.add_argument(
        "--replay-from-beginning",
        action="store_true",
        help="seek every assigned partition to its first offset (same as NOTIFIER_REPLAY_FROM_BEGINNING=true)",
    )
    args = parser.parse_args(argv)
    return run_cli(lambda: _run(args), PROG)
