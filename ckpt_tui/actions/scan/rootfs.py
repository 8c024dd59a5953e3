"""The root FS diff: new or changed executables, setuid/setgid files, files in /tmp and /dev/shm,
hidden directories, changed files under /etc, authorized_keys, crontabs."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from ...model import Checkpoint, RootfsEntry
from .findings import Finding, Level, Link, Where

TEMP_DIRS = ("tmp/", "dev/shm/", "var/tmp/", "run/shm/")
CRON = ("etc/crontab", "etc/cron.d/", "etc/cron.hourly/", "etc/cron.daily/", "etc/cron.weekly/",
        "etc/cron.monthly/", "var/spool/cron/", "etc/anacrontab")
# files under /etc whose change changes who may log in, what every program loads, or what runs
ETC_SENSITIVE = ("etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "etc/sudoers", "etc/sudoers.d/",
                 "etc/ld.so.preload", "etc/ld.so.conf", "etc/ld.so.conf.d/", "etc/pam.d/", "etc/ssh/",
                 "etc/security/", "etc/profile", "etc/profile.d/", "etc/bash.bashrc", "etc/rc.local", "etc/init.d/",
                 "etc/systemd/", "etc/environment")
# hidden directories every home has
COMMON_HIDDEN = frozenset({".cache", ".config", ".local", ".npm", ".m2", ".gradle", ".cargo", ".rustup"})


def _matches(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p.rstrip("/") or (p.endswith("/") and path.startswith(p)) for p in prefixes)


def changed_paths(ck: Checkpoint) -> dict[str, RootfsEntry]:
    """Absolute path -> entry for everything the diff adds or changes (the last copy of a path)."""
    return {"/" + e.path: e for e in ck.rootfs.entries if e.status == "changed"}


def scan(ck: Checkpoint, container: str = "") -> Iterator[Finding]:
    hidden_seen: set[str] = set()
    for e in ck.rootfs.entries:
        if e.status != "changed":
            continue
        path, abspath = e.path, "/" + e.path
        where = Where(path=abspath, container=container)
        link = Link("file", path=abspath, container=container) if e.type == "file" else None
        in_temp = _matches(path, TEMP_DIRS)
        if e.type == "file":
            if e.mode & 0o6000:
                bits = " and ".join(b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if e.mode & m)
                yield Finding("setuid-file", "rootfs", "high", f"{bits} file in the root FS diff: {abspath} "
                              f"(mode {e.mode & 0o7777:04o}, owner {e.uid}:{e.gid})", where, link=link)
            if e.mode & 0o111:
                level: Level = "high" if in_temp or _hidden_part(path) else "medium"
                yield Finding("new-executable", "rootfs", level, f"executable added or changed after the image: "
                              f"{abspath} ({e.size:,} bytes)", where, link=link)
            elif in_temp:
                yield Finding("temp-file", "rootfs", "low", f"file in a temporary directory: {abspath} "
                              f"({e.size:,} bytes)", where, link=link)
        base = posixpath.basename(path)
        if base in ("authorized_keys", "authorized_keys2"):
            yield Finding("authorized-keys", "rootfs", "high", f"SSH authorized_keys added or changed: {abspath}",
                          where, link=link)
        elif _matches(path, CRON) and e.type == "file":
            yield Finding("crontab", "rootfs", "high", f"crontab added or changed: {abspath}", where, link=link)
        elif path.startswith("etc/") and e.type == "file":
            sensitive = _matches(path, ETC_SENSITIVE)
            yield Finding("etc-changed", "rootfs", "high" if sensitive else "low",
                          f"{'security-relevant file' if sensitive else 'file'} under /etc added or changed: {abspath}",
                          where, link=link)
        hidden = _hidden_part(path, e.type == "dir")
        if hidden and hidden not in hidden_seen:
            hidden_seen.add(hidden)
            common = posixpath.basename(hidden) in COMMON_HIDDEN and not _matches(hidden, TEMP_DIRS)
            level = "info" if common else ("medium" if _matches(hidden, TEMP_DIRS) else "low")
            yield Finding("hidden-directory", "rootfs", level, f"hidden directory in the root FS diff: /{hidden}",
                          Where(path="/" + hidden, container=container))


def _hidden_part(path: str, is_dir: bool = False) -> str:
    """The path up to its first hidden directory ("tmp/.x" of "tmp/.x/run"), "" when none."""
    parts = path.split("/")
    for i, part in enumerate(parts if is_dir else parts[:-1]):
        if part.startswith(".") and part not in (".", ".."):
            return "/".join(parts[:i + 1])
    return ""
