"""Which port a child process listens on, for servers started on port 0.

Picking a free port, releasing it and handing it to a server races with every
other test process doing the same under `pytest -n auto`. A server told to bind
port 0 gets a port from the kernel that nobody else can hold; this finds it in
/proc (the socket inodes the process holds, matched with the LISTEN sockets).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

_LISTEN = "0A"


def _listening_inodes() -> dict[str, int]:
    """inode -> port of every listening TCP socket in this network namespace."""
    found: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN:
                found[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        entries = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for entry in entries:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def listening_port(process: subprocess.Popen[bytes], timeout: float = 30) -> int | None:
    """The port `process` listens on once it does; None if it exits first or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        mine = _socket_inodes(process.pid)
        ports = {port for inode, port in _listening_inodes().items() if inode in mine}
        if ports:
            return min(ports)
        time.sleep(0.02)
    return None
