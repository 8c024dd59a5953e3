"""CRIU image magic numbers, file names and the message each image holds.

Every CRIU image starts with two 32-bit words: a *head* word saying what kind
of file it is (``COMMON`` for ordinary images, ``SERVICE`` for ``stats-*`` and
``irmap-cache``) and the image's own magic.  ``inventory.img`` has no head
word.  *Raw* images (``pages-*.img``, the ``ip`` tool dumps, tmpfs tarballs,
...) have no magic at all; their content is whatever the producing tool
wrote.

The magic values and file-name patterns are facts of the CRIU image format
(``criu/include/magic.h``, ``criu/image-desc.c``; complete as of CRIU 4.2);
the tables here are this project's own.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from google.protobuf.message import Message

from . import pb
from .message import PbMessage as PbMessage

__all__ = [
    "HEAD_COMMON",
    "HEAD_MAGICS",
    "HEAD_SERVICE",
    "MAGICS",
    "MAGIC_VALUES",
    "PAYLOADS",
    "RAW",
    "PbMessage",
    "expected_magic",
    "image_name_candidates",
    "message_class",
    "message_names",
    "resolve_image_name",
]

#: Head word of ordinary images ("Sarov").
HEAD_COMMON = 0x54564319
#: Head word of service files, stats-dump/-restore and irmap-cache ("Zlatoust").
HEAD_SERVICE = 0x55105940
HEAD_MAGICS: dict[int, str] = {HEAD_COMMON: "COMMON", HEAD_SERVICE: "SERVICE"}

#: What expected_magic() answers for images without any magic words.
RAW = "RAW"

#: Every image magic value -> its name.  Values shared by several image kinds
#: map to the main kind: PAGEMAP also covers pagemap-shmem-*/pagemap-secretmem-*
#: (and the ancient pages-old formats), SIGNAL also covers PSIGNAL
#: (signal-p-*.img, told apart by file name), BINFMT_MISC its old per-id form.
MAGICS: dict[int, str] = {
    0x58313116: "INVENTORY",
    0x50273030: "PSTREE",
    0x56213732: "FDINFO",
    0x56084025: "PAGEMAP",
    0x55053847: "CORE",
    0x54432030: "IDS",
    0x54123737: "VMAS",
    0x56513555: "PIPES",
    0x56453709: "PIPES_DATA",
    0x58364939: "FIFO",
    0x59333054: "FIFO_DATA",
    0x55344201: "SIGACT",
    0x54373943: "UNIXSK",
    0x56443851: "INETSK",
    0x60454618: "PACKETSK",
    0x57464056: "ITIMERS",
    0x52603957: "POSIX_TIMERS",
    0x56264026: "SK_QUEUES",
    0x54473203: "UTSNS",
    0x54023547: "CREDS",
    0x53115007: "IPC_VAR",
    0x46283044: "IPCNS_SHM",
    0x55453737: "IPCNS_MSG",
    0x59573019: "IPCNS_SEM",
    0x50363636: "REG_FILES",
    0x59255641: "EXT_FILES",
    0x51403912: "FS",
    0x57492820: "MM",
    0x59133954: "REMAP_FPATH",
    0x52583605: "GHOST_FILE",
    0x51465506: "TCP_STREAM",
    0x44523722: "EVENTFD_FILE",
    0x45023858: "EVENTPOLL_FILE",
    0x44433746: "EVENTPOLL_TFD",
    0x57323820: "SIGNALFD",
    0x48424431: "INOTIFY_FILE",
    0x54562009: "INOTIFY_WD",
    0x55563928: "MNTS",
    0x57373951: "NETDEV",
    0x55933752: "NETNS",
    0x59433025: "TTY_FILES",
    0x59453036: "TTY_INFO",
    0x59413026: "TTY_DATA",
    0x54323616: "FILE_LOCKS",
    0x57113925: "RLIMIT",
    0x55096122: "FANOTIFY_FILE",
    0x56506035: "FANOTIFY_MARK",
    0x59255647: "SIGNAL",
    0x58005614: "NETLINK_SK",
    0x61394011: "NS_FILES",
    0x57143751: "TUNFILE",
    0x59383330: "CGROUP",
    0x50493712: "TIMERFD",
    0x61404013: "CPUINFO",
    0x55474906: "USERNS",
    0x64413049: "SECCOMP",
    0x67343323: "BINFMT_MISC",
    0x49353943: "AUTOFS",
    0x56303138: "FILES",
    0x48453499: "MEMFD_INODE",
    0x43114433: "TIMENS",
    0x61157326: "PIDNS",
    0x57506142: "BPFMAP_FILE",
    0x64324033: "BPFMAP_DATA",
    0x59423047: "APPARMOR",
    0x54435556: "PIDFD",
    0x57093306: "STATS",
    0x57004059: "IRMAP_CACHE",
}

#: Name -> value, including the alias names that share a value.
MAGIC_VALUES: dict[str, int] = {name: value for value, name in MAGICS.items()}
MAGIC_VALUES.update({
    "SHMEM_PAGEMAP": MAGIC_VALUES["PAGEMAP"],
    "PAGES_OLD": MAGIC_VALUES["PAGEMAP"],
    "SHM_PAGES_OLD": MAGIC_VALUES["PAGEMAP"],
    "PSIGNAL": MAGIC_VALUES["SIGNAL"],
    "BINFMT_MISC_OLD": MAGIC_VALUES["BINFMT_MISC"],
})

#: Magic values that are CRIU's but never an image in a dump.
NON_IMAGE_MAGICS: dict[int, str] = {0x57023458: "KDAT (CRIU's kernel feature cache)"}

#: Images whose first word says which head they must carry.
SERVICE_IMAGES = frozenset({"STATS", "IRMAP_CACHE"})
HEADLESS_IMAGES = frozenset({"INVENTORY"})

#: Image name -> protobuf message (short name) of its entries.  PAGEMAP's first
#: entry is a pagemap_head and GHOST_FILE's later entries ghost_chunk_entry;
#: images.py handles both.
PAYLOADS: dict[str, str] = {
    "INVENTORY": "inventory_entry",
    "PSTREE": "pstree_entry",
    "FDINFO": "fdinfo_entry",
    "PAGEMAP": "pagemap_entry",
    "CORE": "core_entry",
    "IDS": "task_kobj_ids_entry",
    "VMAS": "vma_entry",
    "PIPES": "pipe_entry",
    "PIPES_DATA": "pipe_data_entry",
    "FIFO": "fifo_entry",
    "FIFO_DATA": "pipe_data_entry",
    "SIGACT": "sa_entry",
    "UNIXSK": "unix_sk_entry",
    "INETSK": "inet_sk_entry",
    "PACKETSK": "packet_sock_entry",
    "ITIMERS": "itimer_entry",
    "POSIX_TIMERS": "posix_timer_entry",
    "SK_QUEUES": "sk_packet_entry",
    "UTSNS": "utsns_entry",
    "CREDS": "creds_entry",
    "IPC_VAR": "ipc_var_entry",
    "IPCNS_SHM": "ipc_shm_entry",
    "IPCNS_MSG": "ipc_msg_entry",
    "IPCNS_SEM": "ipc_sem_entry",
    "REG_FILES": "reg_file_entry",
    "EXT_FILES": "ext_file_entry",
    "FS": "fs_entry",
    "MM": "mm_entry",
    "REMAP_FPATH": "remap_file_path_entry",
    "GHOST_FILE": "ghost_file_entry",
    "TCP_STREAM": "tcp_stream_entry",
    "EVENTFD_FILE": "eventfd_file_entry",
    "EVENTPOLL_FILE": "eventpoll_file_entry",
    "EVENTPOLL_TFD": "eventpoll_tfd_entry",
    "SIGNALFD": "signalfd_entry",
    "INOTIFY_FILE": "inotify_file_entry",
    "INOTIFY_WD": "inotify_wd_entry",
    "MNTS": "mnt_entry",
    "NETDEV": "net_device_entry",
    "NETNS": "netns_entry",
    "TTY_FILES": "tty_file_entry",
    "TTY_INFO": "tty_info_entry",
    "TTY_DATA": "tty_data_entry",
    "FILE_LOCKS": "file_lock_entry",
    "RLIMIT": "rlimit_entry",
    "FANOTIFY_FILE": "fanotify_file_entry",
    "FANOTIFY_MARK": "fanotify_mark_entry",
    "SIGNAL": "siginfo_entry",
    "PSIGNAL": "siginfo_entry",
    "NETLINK_SK": "netlink_sk_entry",
    "NS_FILES": "ns_file_entry",
    "TUNFILE": "tunfile_entry",
    "CGROUP": "cgroup_entry",
    "TIMERFD": "timerfd_entry",
    "CPUINFO": "cpuinfo_entry",
    "USERNS": "userns_entry",
    "SECCOMP": "seccomp_entry",
    "BINFMT_MISC": "binfmt_misc_entry",
    "AUTOFS": "autofs_entry",
    "FILES": "file_entry",
    "MEMFD_INODE": "memfd_inode_entry",
    "TIMENS": "timens_entry",
    "PIDNS": "pidns_entry",
    "BPFMAP_FILE": "bpfmap_file_entry",
    "BPFMAP_DATA": "bpfmap_data_entry",
    "APPARMOR": "apparmor_entry",
    "PIDFD": "pidfd_entry",
    "STATS": "stats_entry",
    "IRMAP_CACHE": "irmap_cache_entry",
}

# File names without a number in them.
_FIXED_NAMES: dict[str, str] = {
    "inventory.img": "INVENTORY",
    "pstree.img": "PSTREE",
    "files.img": "FILES",
    "reg-files.img": "REG_FILES",
    "ext-files.img": "EXT_FILES",
    "ns-files.img": "NS_FILES",
    "eventfd.img": "EVENTFD_FILE",
    "eventpoll.img": "EVENTPOLL_FILE",
    "eventpoll-tfd.img": "EVENTPOLL_TFD",
    "signalfd.img": "SIGNALFD",
    "inotify.img": "INOTIFY_FILE",
    "inotify-wd.img": "INOTIFY_WD",
    "fanotify.img": "FANOTIFY_FILE",
    "fanotify-mark.img": "FANOTIFY_MARK",
    "pipes.img": "PIPES",
    "pipes-data.img": "PIPES_DATA",
    "fifo.img": "FIFO",
    "fifo-data.img": "FIFO_DATA",
    "unixsk.img": "UNIXSK",
    "inetsk.img": "INETSK",
    "packetsk.img": "PACKETSK",
    "netlinksk.img": "NETLINK_SK",
    "sk-queues.img": "SK_QUEUES",
    "remap-fpath.img": "REMAP_FPATH",
    "memfd.img": "MEMFD_INODE",
    "binfmt-misc.img": "BINFMT_MISC",
    "tty.img": "TTY_FILES",
    "tty-info.img": "TTY_INFO",
    "tty-data.img": "TTY_DATA",
    "filelocks.img": "FILE_LOCKS",
    "tunfile.img": "TUNFILE",
    "cgroup.img": "CGROUP",
    "timerfd.img": "TIMERFD",
    "cpuinfo.img": "CPUINFO",
    "seccomp.img": "SECCOMP",
    "bpfmap-file.img": "BPFMAP_FILE",
    "bpfmap-data.img": "BPFMAP_DATA",
    "apparmor.img": "APPARMOR",
    "pidfd.img": "PIDFD",
    "stats-dump": "STATS",
    "stats-restore": "STATS",
    "irmap-cache": "IRMAP_CACHE",
}

# "<prefix>-<number>.img" names; the number is decimal unless noted.
_NUMBERED: dict[str, str] = {
    "fdinfo": "FDINFO",
    "pagemap": "PAGEMAP",
    "pagemap-shmem": "PAGEMAP",
    "pagemap-secretmem": "PAGEMAP",
    "pages-shmem": "PAGEMAP",          # pre-pagemap shmem pages (very old CRIU)
    "pages": RAW,
    "core": "CORE",
    "ids": "IDS",
    "mm": "MM",
    "vmas": "VMAS",
    "sigacts": "SIGACT",
    "itimers": "ITIMERS",
    "posix-timers": "POSIX_TIMERS",
    "creds": "CREDS",
    "utsns": "UTSNS",
    "ipcns-var": "IPC_VAR",
    "ipcns-shm": "IPCNS_SHM",
    "ipcns-msg": "IPCNS_MSG",
    "ipcns-sem": "IPCNS_SEM",
    "fs": "FS",
    "ghost-file": "GHOST_FILE",        # hexadecimal id
    "tcp-stream": "TCP_STREAM",        # hexadecimal inode
    "mountpoints": "MNTS",
    "netdev": "NETDEV",
    "netns": "NETNS",
    "ifaddr": RAW,
    "route": RAW,
    "route6": RAW,
    "rule": RAW,
    "iptables": RAW,
    "ip6tables": RAW,
    "nftables": RAW,
    "netns-ct": RAW,
    "netns-exp": RAW,
    "autofs": "AUTOFS",
    "binfmt-misc": "BINFMT_MISC",
    "rlimit": "RLIMIT",
    "signal-s": "SIGNAL",
    "signal-p": "PSIGNAL",
    "userns": "USERNS",
    "timens": "TIMENS",
    "pidns": "PIDNS",
}

_NUMBERED_RE = re.compile(r"^(?P<prefix>[a-z0-9-]+?)-(?P<id>-?[0-9a-fA-F]+)\.img$")
_TMPFS_RE = re.compile(r"^tmpfs-(?:dev-)?\d+\.tar\.gz\.img$")


def expected_magic(name: str) -> str | None:
    """The image kind a CRIU file name implies, or None for names CRIU never writes.

    Directory parts are ignored: ``"checkpoint/core-1.img"`` -> ``"CORE"``,
    ``"pages-2.img"`` -> ``"RAW"`` (no magic at all), ``"pagemap-shmem-5.img"``
    -> ``"PAGEMAP"``, ``"signal-p-7.img"`` -> ``"PSIGNAL"``, ``"stats-dump"``
    -> ``"STATS"``, ``"descriptors.json"`` -> None.
    """
    base = posixpath.basename(name.replace("\\", "/"))
    fixed = _FIXED_NAMES.get(base)
    if fixed is not None:
        return fixed
    if _TMPFS_RE.match(base):
        return RAW
    m = _NUMBERED_RE.match(base)
    if m is not None:
        prefix, ident = m.group("prefix"), m.group("id")
        kind = _NUMBERED.get(prefix)
        if kind is None:
            return None
        hexadecimal = prefix in ("ghost-file", "tcp-stream")
        if not hexadecimal and not ident.lstrip("-").isdigit():
            return None
        return kind
    return None


_CKPT_DIR = "checkpoint/"


def image_name_candidates(name: str) -> list[str]:
    """Member names a user may mean by an image name, most literal first.

    CRIU names almost every image ``*.img`` but the statistics files
    ``stats-dump``/``stats-restore`` (and ``irmap-cache``) without, and crit
    users type either form; a checkpoint keeps the images under ``checkpoint/``
    except ``stats-dump``, which Podman moves to the top.  So
    ``"stats-dump.img"`` -> ``["stats-dump.img", "checkpoint/stats-dump.img",
    "stats-dump", "checkpoint/stats-dump"]`` and ``"core-1"`` also tries
    ``"core-1.img"``.
    """
    n = name.strip().replace("\\", "/")
    while n.startswith("./"):
        n = n[2:]
    n = n.lstrip("/")
    if not n:
        return []
    forms = [n, n[: -len(".img")] if n.endswith(".img") else n + ".img"]
    out: list[str] = []
    for form in forms:
        if not form or form.endswith("/"):
            continue
        if form.startswith(_CKPT_DIR):
            variants = [form, form[len(_CKPT_DIR):]]
        else:
            variants = [form, _CKPT_DIR + form]
        for v in variants:
            if v and v not in out:
                out.append(v)
    return out


def resolve_image_name(name: str, has: Callable[[str], bool]) -> str | None:
    """The member ``name`` means (see image_name_candidates), by asking ``has``; None if none exists.

    ``has`` is e.g. ``Source.has``: ``resolve_image_name("stats-dump.img", src.has)``
    -> ``"stats-dump"`` for a Podman archive.
    """
    for cand in image_name_candidates(name):
        if has(cand):
            return cand
    return None




def _collect_messages() -> dict[str, type[Message]]:
    found: dict[str, type[Message]] = {}
    for mod_name in pb.__all__:
        module = getattr(pb, mod_name)
        for msg_name in module.DESCRIPTOR.message_types_by_name:
            found[msg_name] = getattr(module, msg_name)
    return found


_MESSAGES: dict[str, type[Message]] = _collect_messages()


def message_class(name: str) -> type[Message]:
    """The generated class of a top-level CRIU message, by short or full name.

    ``message_class("core_entry")`` is ``pb.task_pb2.core_entry``.  Raises
    KeyError for names the schema does not have.
    """
    short = name.rpartition(".")[2]
    return _MESSAGES[short]


def message_names() -> list[str]:
    """Short names of every top-level message in the schema, sorted."""
    return sorted(_MESSAGES)
