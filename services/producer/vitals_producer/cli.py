"""`vitals-producer`: publish the rows of a SQL table to the vitals topic."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from vitals_common.cli import parser_for
from vitals_common.errors import run_cli
from vitals_common.logs import configure_logging, log_settings

from vitals_producer.runner import ProducerError
from vitals_producer.service import run_producer
from vitals_producer.settings import ProducerSettings

PROG = "vitals-producer"
DESCRIPTION = (
    "Read vitals rows from a SQL table in order, publish one event per row to Kafka, and keep a "
    "high-water mark so a restart resumes after the last confirmed row. Exit status: 0 at the end of "
    "the table or after SIGTERM/SIGINT, 1 when a delivery failed, 2 for invalid configuration or an "
    "unreachable dependency at start."
)

log = logging.getLogger("vitals_producer")


def install_stop_handlers(stop_event: threading.Event) -> None:
    """Make SIGTERM and SIGINT request a clean stop; a second signal interrupts at once."""

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if stop_event.is_set():
            raise KeyboardInterrupt
        log.info("stop requested; flushing outstanding messages", extra={"signal": signal.Signals(signum).name})
        stop_event.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def _run() -> int:
    settings = ProducerSettings()
    configure_logging("producer", settings.log_level, settings.log_format)
    log_settings(log, settings)
    stop_event = threading.Event()
    install_stop_handlers(stop_event)
    try:
        run_producer(settings, stop_event)
    except ProducerError as exc:
        log.error("producer stopped", extra={"error": str(exc)})
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser_for(PROG, DESCRIPTION, ProducerSettings).parse_args(argv)
    return run_cli(_run, PROG)
