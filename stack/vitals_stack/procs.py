"""Process handling for the stack: pid files, port checks, start, readiness wait and stop."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from vitals_stack.errors import StackError

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 30
STOP_GRACE_SECONDS = 20.0


@dataclass(frozen=True)
class ProcessFiles:
    """Pid file and log file of one process of the stack, under ``<home>/<component>/``."""

    name: str
    directory: Path

    @property
    def pid_file(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / f"{self.name}.log"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when ``host:port`` can be bound, so no server listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def require_free_ports(component: str, ports: Mapping[str, int]) -> None:
    """Raise StackError naming the port and its setting when one of ``ports`` is taken.

    ``ports`` maps the environment variable that sets a port to the port number.
    """
    for variable, port in ports.items():
        if not port_is_free(port):
            raise StackError(
                f"{component}: port {port} on 127.0.0.1 is already in use by another process. "
                f"Stop that process or set {variable} to a free port."
            )


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a text file, or a note when it does not exist."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _process_start_time(pid: int) -> str | None:
    """Return the kernel start time of ``pid`` (field 22 of /proc/PID/stat), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in field 2 may contain spaces, so split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _group_members(pgid: int) -> list[int]:
    """Return the live pids whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def read_pid(files: ProcessFiles) -> int | None:
    """Return the pid of a running process from its pid file, or None if it is not running.

    The pid file also stores the process start time, so a pid reused by an unrelated
    process after a crash does not count as running.
    """
    try:
        pid_text, _, start_time = files.pid_file.read_text().partition(" ")
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return None
    if _process_start_time(pid) != start_time.strip():
        return None
    return pid


def start(
    files: ProcessFiles,
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """Start ``command`` in its own session, appending stdout and stderr to the log file."""
    files.directory.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    with files.log_file.open("ab") as log_handle:
        log_handle.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(command)}\n".encode())
        log_handle.flush()
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd or files.directory),
            start_new_session=True,
        )
    start_time = _process_start_time(process.pid) or ""
    files.pid_file.write_text(f"{process.pid} {start_time}\n")
    log.info("%s: started pid %d, log %s", files.name, process.pid, files.log_file)
    return process


def wait_ready(
    component: str,
    files: ProcessFiles,
    process: subprocess.Popen | None,
    is_ready: Callable[[], bool],
    timeout: float,
) -> None:
    """Poll ``is_ready`` until it returns True; raise StackError on exit or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise StackError(
                f"{component}: {files.name} exited with code {process.returncode} before it was ready. "
                f"Last lines of {files.log_file}:\n{tail(files.log_file)}"
            )
        try:
            if is_ready():
                return
        except Exception as exc:  # readiness probes fail in many ways while a server starts
            log.debug("%s: not ready yet: %s", files.name, exc)
        if time.monotonic() > deadline:
            raise StackError(
                f"{component}: {files.name} was not ready after {timeout:.0f} s "
                f"(raise STACK_READY_TIMEOUT to wait longer). Last lines of {files.log_file}:\n"
                f"{tail(files.log_file)}"
            )
        time.sleep(1.0)


def stop(files: ProcessFiles, grace: float = STOP_GRACE_SECONDS) -> bool:
    """Stop the process group of one stack process: SIGTERM, wait ``grace`` seconds, then SIGKILL.

    Also works from a stale pid file: when the group leader is gone, remaining members
    of its process group are still stopped. Returns True when something was signalled.
    """
    try:
        pid = int(files.pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return False

    # start_new_session=True made the process the leader of a group whose id is its pid.
    # Linux does not reuse a pid while a process group of that id still has members.
    leader_alive = read_pid(files) == pid
    members = _group_members(pid)
    if not leader_alive and not members:
        files.pid_file.unlink(missing_ok=True)
        return False

    log.info("%s: stopping process group %d", files.name, pid)
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_members(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group_members(pid):
        log.warning("%s: process group %d still running after %.0f s, sending SIGKILL", files.name, pid, grace)
        _signal_group(pid, signal.SIGKILL)
        kill_deadline = time.monotonic() + 5.0
        while _group_members(pid) and time.monotonic() < kill_deadline:
            time.sleep(0.1)
    _reap(pid)
    files.pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    """Collect the exit status when the stopped process is a child of this Python process."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
