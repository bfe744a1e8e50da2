"""Where the bot keeps its jobs, and whether they outlive a restart.

A Space's disk is wiped at every restart, rebuild and wake-up (Spaces no longer have
persistent disks), and a Hub Job starts on an empty one: there only DATABASE_URL keeps state.
A DATA_DIR on a network filesystem (a mounted Storage Bucket, NFS, SMB) keeps it, but SQLite
must not use WAL there.
"""

from __future__ import annotations

import os
from pathlib import Path

NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb", "smb3", "9p", "ceph", "glusterfs", "lustre")


def filesystem_of(path: Path, mounts: str | None = None) -> str:
    """The type of the filesystem `path` lives on (`/proc/mounts`), or "" when unknown."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return ""
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, fields[2]
    return kind


def on_network(path: Path, mounts: str | None = None) -> bool:
    kind = filesystem_of(_existing(path), mounts)
    return kind in NETWORK_FILESYSTEMS or kind.startswith("fuse")


def _existing(path: Path) -> Path:
    """The nearest folder that exists, since DATA_DIR may not have been made yet."""
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def on_a_space() -> bool:
    return bool(os.environ.get("SPACE_ID") or os.environ.get("SPACE_HOST"))


def lost_at_restart(sqlite_dir: Path | None, space_host: str | None = None) -> str | None:
    """Why jobs may not survive a restart here, or None when they will. `sqlite_dir`: the
    folder SQLite keeps them in (DATA_DIR), None when they live on a PostgreSQL server;
    `space_host`: SPACE_HOST, when set."""
    if sqlite_dir is None:
        return None
    if on_a_space() or space_host:
        return (
            "a Space's disk is wiped at every restart, rebuild and wake-up, so mentions waiting"
            " then are lost (none is answered twice: the Hub is checked before each post); set"
            " DATABASE_URL to a hosted PostgreSQL"
        )
    if on_network(sqlite_dir):
        return (
            "DATA_DIR is on a network filesystem, where SQLite runs without WAL and its locks"
            " cannot be trusted; set DATABASE_URL to a PostgreSQL server"
        )
    return None
