"""Resident memory of the local stack and the stages, summed per process group from /proc."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from vitals_stack import lifecycle
from vitals_stack.settings import StackSettings

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _process_groups() -> dict[int, int]:
    """Map every process id to its process group id, from /proc."""
    groups = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                groups[int(entry.name)] = int(fields[2])
            except (OSError, IndexError, ValueError):
                continue
    return groups


def _rss_bytes(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class MemorySampler(threading.Thread):
    """Sums the RSS of all processes in the given process groups; keeps the maximum per group label."""

    def __init__(self, groups: dict[str, set[int]], interval_s: float = 0.5):
        super().__init__(daemon=True)
        self.groups = groups
        self.interval_s = interval_s
        self.peak_total = 0
        self.peak_by_label: dict[str, int] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            members = _process_groups()
            total = 0
            for label, leaders in self.groups.items():
                rss = sum(_rss_bytes(pid) for pid, group in members.items() if group in leaders)
                self.peak_by_label[label] = max(self.peak_by_label.get(label, 0), rss)
                total += rss
            self.peak_total = max(self.peak_total, total)
            self.stopped.wait(self.interval_s)


def stack_process_groups(stack: StackSettings) -> dict[str, set[int]]:
    groups = {}
    for row in lifecycle.status(stack):
        pids = {int(p) for p in row.pid.split(",") if p.isdigit()}
        if pids:
            groups[row.component] = pids
    return groups
