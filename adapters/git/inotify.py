"""Linux inotify through ctypes: one non-blocking descriptor, watches on directories, events read without waiting.

Three libc calls and a 16-byte event header, so no dependency. Where inotify is missing (another OS) or the kernel
refuses (out of instances or watches), ``open`` answers None and ``watch`` False: callers then do the work a watch
would have spared them, never less.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import struct
import sys
import weakref
from dataclasses import dataclass

log = logging.getLogger(__name__)

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC

# Every way a directory's entries or a file's content, mode or times can change. Opening and reading (what git
# does on a clean worktree) report nothing.
CHANGES = IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows
_READ_SIZE = 64 * 1024

# statfs(2) f_type of filesystems whose every change goes through this kernel, so reaches inotify. A network
# filesystem (NFS, SMB, Ceph, 9p) or FUSE may be written by another machine or a daemon inotify never hears from.
LOCAL_FILESYSTEMS = {
    0xEF53: "ext2/3/4",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0x01021994: "tmpfs",
    0x794C7630: "overlayfs",
    0x2FC12FC1: "zfs",
    0xF2F52010: "f2fs",
    0xCA451A4E: "bcachefs",
    0x52654973: "reiserfs",
    0x3153464A: "jfs",
}
_STATFS_SIZE = 256  # struct statfs is 120 bytes on 64-bit Linux; f_type (a long) comes first


def local_filesystem(path: str) -> bool:
    """Whether ``path`` lies on a filesystem every change of which inotify hears about (``LOCAL_FILESYSTEMS``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    except (OSError, AttributeError):
        return False
    buffer = ctypes.create_string_buffer(_STATFS_SIZE)
    if libc.statfs(os.fsencode(path), buffer) != 0:
        return False
    f_type = ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF
    return f_type in LOCAL_FILESYSTEMS


@dataclass(frozen=True)
class Event:
    wd: int  # -1 for IN_Q_OVERFLOW: events were lost
    mask: int
    name: str


class Inotify:
    """One inotify instance. Not thread-safe: the caller serialises ``watch``, ``unwatch`` and ``drain``."""

    def __init__(self, fd: int, libc: ctypes.CDLL) -> None:
        self._fd = fd
        self._libc = libc
        self._closer = weakref.finalize(self, os.close, fd)  # an owner that never closed it (a test) frees it too

    @classmethod
    def open(cls) -> Inotify | None:
        if not sys.platform.startswith("linux"):
            return None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.inotify_init1.argtypes = [ctypes.c_int]
            libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
            libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        except (OSError, AttributeError):
            return None
        fd = int(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
        if fd < 0:
            log.info("no inotify instance (%s): every diff reads the worktree", os.strerror(ctypes.get_errno()))
            return None
        return cls(fd, libc)

    def watch(self, directory: str) -> int | None:
        """The watch descriptor of ``directory`` (the same one again for a directory watched already); None when
        it is gone, not a directory (a symlink is not followed), or the kernel is out of watches."""
        wd = int(self._libc.inotify_add_watch(self._fd, os.fsencode(directory), CHANGES | IN_ONLYDIR | IN_DONT_FOLLOW))
        if wd < 0:
            code = ctypes.get_errno()
            if code == errno.ENOSPC:
                log.info("out of inotify watches (fs.inotify.max_user_watches): %s is diffed in full", directory)
            return None
        return wd

    def unwatch(self, wd: int) -> None:
        self._libc.inotify_rm_watch(self._fd, wd)  # fails harmlessly for a watch the kernel dropped already

    def drain(self) -> list[Event]:
        """Every event queued now; never waits."""
        events: list[Event] = []
        while True:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                return events
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size
                name = os.fsdecode(data[offset : offset + length].rstrip(b"\0"))
                offset += length
                events.append(Event(wd, mask, name))

    def close(self) -> None:
        self._closer()
