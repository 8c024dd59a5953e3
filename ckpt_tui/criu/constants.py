"""Names for the numbers found in CRIU images (Linux ABI values).

Everything here is plain data plus two tiny helpers, for the model and the UI
to turn raw image values into words: capabilities, descriptor kinds, socket
families/types/states/protocols, VMA protection/flags/status bits, pagemap
flags, open(2) flags, memfd seals, mount file system kinds, network device
kinds, task states, namespaces, signals, resource limits, interface flags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "ARCHITECTURES",
    "ARCH_SHSTK_SHSTK",
    "CAPABILITIES",
    "CET_FEATURES",
    "FD_TYPES",
    "FSTYPE_AUTO",
    "FSTYPE_UNSUPPORTED",
    "GOARCH",
    "IFF_FLAGS",
    "IP_PROTOCOLS",
    "MAX_CAP_WORDS",
    "MEMFD_SEALS",
    "MOUNT_FSTYPES",
    "NAMESPACE_FLAGS",
    "NETDEV_TYPES",
    "NETWORK_LOCK_METHODS",
    "OPEN_FLAGS",
    "PAGEMAP_FLAGS",
    "PAGE_SIZE",
    "PE_LAZY",
    "PE_PARENT",
    "PE_PRESENT",
    "PROCESS_STATES",
    "PTS_MAJOR_FIRST",
    "PTS_MAJOR_LAST",
    "REMAP_TYPES",
    "RLIMITS",
    "RUNNING_STATES",
    "SHUTDOWN",
    "SIGNALS",
    "SOCKET_FAMILIES",
    "SOCKET_STATES",
    "SOCKET_TYPES",
    "TASK_ALIVE",
    "TASK_DEAD",
    "TASK_HELPER",
    "TASK_STATES",
    "TASK_STOPPED",
    "TASK_THREAD",
    "TASK_ZOMBIE",
    "TCPI_OPTS",
    "TCP_STATES",
    "TTY_TYPES",
    "VMA_FLAGS",
    "VMA_PROT",
    "VMA_STATUS",
    "X86_CPU_FEATURES",
    "X86_FPU_FEATURES",
    "XSAVE_FEATURES",
    "ZOMBIE_STATES",
    "cap_name",
    "caps_from_words",
    "caps_to_mask",
    "flag_names",
    "mount_type_name",
]

#: CRIU itself assumes 4 KiB pages on x86-64 (pagemap nr_pages count these).
PAGE_SIZE = 4096

#: Linux capability numbers (include/uapi/linux/capability.h), index = number.
CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",               # 0
    "CAP_DAC_OVERRIDE",        # 1
    "CAP_DAC_READ_SEARCH",     # 2
    "CAP_FOWNER",              # 3
    "CAP_FSETID",              # 4
    "CAP_KILL",                # 5
    "CAP_SETGID",              # 6
    "CAP_SETUID",              # 7
    "CAP_SETPCAP",             # 8
    "CAP_LINUX_IMMUTABLE",     # 9
    "CAP_NET_BIND_SERVICE",    # 10
    "CAP_NET_BROADCAST",       # 11
    "CAP_NET_ADMIN",           # 12
    "CAP_NET_RAW",             # 13
    "CAP_IPC_LOCK",            # 14
    "CAP_IPC_OWNER",           # 15
    "CAP_SYS_MODULE",          # 16
    "CAP_SYS_RAWIO",           # 17
    "CAP_SYS_CHROOT",          # 18
    "CAP_SYS_PTRACE",          # 19
    "CAP_SYS_PACCT",           # 20
    "CAP_SYS_ADMIN",           # 21
    "CAP_SYS_BOOT",            # 22
    "CAP_SYS_NICE",            # 23
    "CAP_SYS_RESOURCE",        # 24
    "CAP_SYS_TIME",            # 25
    "CAP_SYS_TTY_CONFIG",      # 26
    "CAP_MKNOD",               # 27
    "CAP_LEASE",               # 28
    "CAP_AUDIT_WRITE",         # 29
    "CAP_AUDIT_CONTROL",       # 30
    "CAP_SETFCAP",             # 31
    "CAP_MAC_OVERRIDE",        # 32
    "CAP_MAC_ADMIN",           # 33
    "CAP_SYSLOG",              # 34
    "CAP_WAKE_ALARM",          # 35
    "CAP_BLOCK_SUSPEND",       # 36
    "CAP_AUDIT_READ",          # 37
    "CAP_PERFMON",             # 38
    "CAP_BPF",                 # 39
    "CAP_CHECKPOINT_RESTORE",  # 40
)


def cap_name(number: int) -> str:
    """``CAP_SYS_ADMIN`` for 21; ``CAP_<n>`` for numbers newer than this table."""
    if 0 <= number < len(CAPABILITIES):
        return CAPABILITIES[number]
    return f"CAP_{number}"


#: Words of a capability set that are read (CRIU writes 2: 64 capabilities; Linux has 41).
#: An image carrying more (a hostile one, with millions) costs no more than this.
MAX_CAP_WORDS = 4


def caps_to_mask(words: Sequence[int]) -> int:
    """Join creds cap_* words (32 bits each, lowest word first) into one integer
    (the first :data:`MAX_CAP_WORDS`)."""
    mask = 0
    for i, word in enumerate(words[:MAX_CAP_WORDS]):
        mask |= (int(word) & 0xFFFFFFFF) << (32 * i)
    return mask


def caps_from_words(words: Sequence[int]) -> list[str]:
    """Names of the capabilities set in creds cap_* words (lowest word first; the first
    :data:`MAX_CAP_WORDS`, see :func:`caps_to_mask`).

    >>> caps_from_words([0x00000401, 0x0])
    ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE']
    """
    mask = caps_to_mask(words)
    return [cap_name(bit) for bit in range(mask.bit_length()) if mask >> bit & 1]


def flag_names(value: int, table: Iterable[tuple[str, int]], *, leftover_hex: bool = True) -> list[str]:
    """Names of the bits of ``value`` found in ``table`` ((name, bit) pairs, in
    table order), plus ``"0x..."`` for bits the table does not know."""
    names = []
    known = 0
    for name, bit in table:
        known |= bit
        if bit and value & bit:
            names.append(name)
    rest = value & ~known
    if rest and leftover_hex:
        names.append(f"0x{rest:x}")
    return names


#: fd_types enum of fdinfo/files images.
FD_TYPES: dict[int, str] = {
    0: "UND", 1: "REG", 2: "PIPE", 3: "FIFO", 4: "INETSK", 5: "UNIXSK",
    6: "EVENTFD", 7: "EVENTPOLL", 8: "INOTIFY", 9: "SIGNALFD", 10: "PACKETSK",
    11: "TTY", 12: "FANOTIFY", 13: "NETLINKSK", 14: "NS", 15: "TUNF", 16: "EXT",
    17: "TIMERFD", 18: "MEMFD", 19: "BPFMAP", 20: "PIDFD",
}

#: AF_* address families seen in socket images.
SOCKET_FAMILIES: dict[int, str] = {1: "UNIX", 2: "INET", 10: "INET6", 16: "NETLINK", 17: "PACKET"}

#: the family, protocol and states the model tests by name
AF_INET, AF_INET6 = 2, 10
IPPROTO_TCP = 6
TCP_CLOSE, TCP_LISTEN = 7, 10

#: SOCK_* socket types.
SOCKET_TYPES: dict[int, str] = {1: "STREAM", 2: "DGRAM", 3: "RAW", 4: "RDM", 5: "SEQPACKET", 6: "DCCP", 10: "PACKET"}

#: TCP_* states (include/net/tcp_states.h); unix sockets reuse ESTABLISHED,
#: CLOSE and LISTEN.
TCP_STATES: dict[int, str] = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}
SOCKET_STATES = TCP_STATES

#: IPPROTO_* numbers.
IP_PROTOCOLS: dict[int, str] = {
    0: "IP", 1: "ICMP", 6: "TCP", 17: "UDP", 33: "DCCP", 58: "ICMPV6",
    132: "SCTP", 136: "UDPLITE", 255: "RAW",
}

#: sk_shutdown enum.
SHUTDOWN: dict[int, str] = {0: "NONE", 1: "READ", 2: "WRITE", 3: "BOTH"}

#: vma_entry.prot bits.
VMA_PROT: tuple[tuple[str, int], ...] = (
    ("PROT_READ", 0x1),
    ("PROT_WRITE", 0x2),
    ("PROT_EXEC", 0x4),
)

#: vma_entry.flags bits (the MAP_* flags CRIU records).
VMA_FLAGS: tuple[tuple[str, int], ...] = (
    ("MAP_SHARED", 0x1),
    ("MAP_PRIVATE", 0x2),
    ("MAP_DROPPABLE", 0x8),
    ("MAP_ANON", 0x20),
    ("MAP_GROWSDOWN", 0x100),
)

#: vma_entry.status bits (CRIU's VMA_* classification).
VMA_STATUS: tuple[tuple[str, int], ...] = (
    ("VMA_AREA_NONE", 0),
    ("VMA_AREA_REGULAR", 1 << 0),
    ("VMA_AREA_STACK", 1 << 1),
    ("VMA_AREA_VSYSCALL", 1 << 2),
    ("VMA_AREA_VDSO", 1 << 3),
    ("VMA_AREA_HEAP", 1 << 5),
    ("VMA_FILE_PRIVATE", 1 << 6),
    ("VMA_FILE_SHARED", 1 << 7),
    ("VMA_ANON_SHARED", 1 << 8),
    ("VMA_ANON_PRIVATE", 1 << 9),
    ("VMA_AREA_SYSVIPC", 1 << 10),
    ("VMA_AREA_SOCKET", 1 << 11),
    ("VMA_AREA_VVAR", 1 << 12),
    ("VMA_AREA_AIORING", 1 << 13),
    ("VMA_AREA_MEMFD", 1 << 14),
    ("VMA_AREA_SHSTK", 1 << 15),
    ("VMA_AREA_UPROBES", 1 << 17),
    ("VMA_UNSUPP", 1 << 31),
)

# the same bits by name, for code that tests them
PROT_READ, PROT_WRITE, PROT_EXEC = 0x1, 0x2, 0x4
MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS = 0x1, 0x2, 0x20
VMA_AREA_REGULAR = 1 << 0
VMA_AREA_STACK = 1 << 1
VMA_AREA_VSYSCALL = 1 << 2
VMA_AREA_VDSO = 1 << 3
VMA_AREA_HEAP = 1 << 5
VMA_FILE_PRIVATE = 1 << 6
VMA_FILE_SHARED = 1 << 7
VMA_ANON_SHARED = 1 << 8
VMA_ANON_PRIVATE = 1 << 9
VMA_AREA_SYSVIPC = 1 << 10
VMA_AREA_SOCKET = 1 << 11
VMA_AREA_VVAR = 1 << 12
VMA_AREA_AIORING = 1 << 13
VMA_AREA_MEMFD = 1 << 14

#: pagemap_entry.flags bits.
PE_PARENT = 1 << 0   # pages are in the parent (pre-dump) image set
PE_LAZY = 1 << 1     # pages may be fetched lazily (userfaultfd)
PE_PRESENT = 1 << 2  # pages are in this image set's pages-<id>.img
PAGEMAP_FLAGS: tuple[tuple[str, int], ...] = (
    ("PE_PARENT", PE_PARENT),
    ("PE_LAZY", PE_LAZY),
    ("PE_PRESENT", PE_PRESENT),
)

#: open(2) flags as recorded in reg_file_entry.flags (x86 values).
OPEN_FLAGS: tuple[tuple[str, int], ...] = (
    ("O_WRONLY", 0o1),
    ("O_RDWR", 0o2),
    ("O_CREAT", 0o100),
    ("O_EXCL", 0o200),
    ("O_NOCTTY", 0o400),
    ("O_TRUNC", 0o1000),
    ("O_APPEND", 0o2000),
    ("O_NONBLOCK", 0o4000),
    ("O_DSYNC", 0o10000),
    ("FASYNC", 0o20000),
    ("O_DIRECT", 0o40000),
    ("O_LARGEFILE", 0o100000),
    ("O_DIRECTORY", 0o200000),
    ("O_NOFOLLOW", 0o400000),
    ("O_NOATIME", 0o1000000),
    ("O_CLOEXEC", 0o2000000),
)

#: memfd F_SEAL_* bits.
MEMFD_SEALS: tuple[tuple[str, int], ...] = (
    ("F_SEAL_SEAL", 0x1),
    ("F_SEAL_SHRINK", 0x2),
    ("F_SEAL_GROW", 0x4),
    ("F_SEAL_WRITE", 0x8),
    ("F_SEAL_FUTURE_WRITE", 0x10),
)

#: mnt_entry.fstype numbers (CRIU's own enumeration, not kernel magic numbers).
MOUNT_FSTYPES: dict[int, str] = {
    0: "unsupported", 1: "proc", 2: "sysfs", 3: "devtmpfs", 4: "binfmt_misc",
    5: "tmpfs", 6: "devpts", 7: "simfs", 8: "pstore", 9: "securityfs",
    10: "fusectl", 11: "debugfs", 12: "cgroup", 13: "aufs", 14: "mqueue",
    15: "fuse", 16: "auto", 17: "overlay", 18: "autofs", 19: "tracefs",
    23: "cgroup2",
}

#: mnt_entry.fstype 0: a file system CRIU does not dump itself (the host's ext4, xfs, ...).
FSTYPE_UNSUPPORTED = 0
#: mnt_entry.fstype 16: dumped by --enable-fs/auto; mnt_entry.fsname then has the kernel's name.
FSTYPE_AUTO = 16


def mount_type_name(fstype: int, fsname: str = "", *, external: bool = False, root: str = "/") -> str:
    """What to call the file system of a mnt_entry.

    ``fsname`` wins when CRIU wrote one.  An *external* mount (``ext_key`` set,
    or old CRIU's ``ext_mount`` flag) is one the engine bind-mounts in from
    the host (``/etc/hosts``, ``resolv.conf``, volumes) and hands back to CRIU
    on restore (``--external mnt[KEY]:PATH``); CRIU never dumps its content,
    so for one on a file system it has no code for it records fstype 0
    ("unsupported") without a name.  That says nothing about the container,
    so such a mount is called ``"bind"`` when its root is below the top of
    that file system (a file or a directory of the host, as in every Podman
    checkpoint) and ``"external"`` otherwise.  An external mount of a known
    kind (the ``/dev/shm`` tmpfs, cgroup) keeps its kind.
    """
    if fsname:
        return fsname
    if fstype == FSTYPE_UNSUPPORTED and external:
        return "bind" if root not in ("", "/") else "external"
    return MOUNT_FSTYPES.get(fstype, str(fstype))

#: net_device_entry.type (nd_type enum).
NETDEV_TYPES: dict[int, str] = {
    1: "LOOPBACK", 2: "VETH", 3: "TUN", 4: "EXTLINK", 5: "VENET", 6: "BRIDGE",
    7: "MACVLAN", 8: "SIT",
}

#: task_core_entry.task_state: CRIU's TASK_* values (criu/include/pid.h over compel's task-state.h);
#: TASK_HELPER and TASK_THREAD are its in-memory states (COMPEL_TASK_MAX 0x7f + 1, + 2), never in an image.
TASK_ALIVE, TASK_DEAD, TASK_STOPPED, TASK_ZOMBIE, TASK_HELPER, TASK_THREAD = 0x01, 0x02, 0x03, 0x06, 0x80, 0x81
#: the value names CRIU gives them (what ``decode`` prints, as crit does)
TASK_STATES: dict[int, str] = {TASK_ALIVE: "Alive", TASK_DEAD: "Dead", TASK_STOPPED: "Stopped",
                               TASK_ZOMBIE: "Zombie"}
#: what a process in an image is, by its task_state. CRIU dumps a zombie as TASK_DEAD with its
#: wait status in ``exit_code`` (cr-dump.c dump_one_zombie; seize turns TASK_ZOMBIE into
#: TASK_DEAD), and restores a TASK_DEAD task as a zombie: no task in an image is merely dead.
PROCESS_STATES: dict[int, str] = {TASK_ALIVE: "Alive", TASK_DEAD: "Zombie", TASK_STOPPED: "Stopped",
                                  TASK_ZOMBIE: "Zombie"}
#: the states whose tasks CRIU dumped with their memory, files and threads
RUNNING_STATES = frozenset((TASK_ALIVE, TASK_STOPPED))
#: the states of a zombie (CRIU writes only TASK_DEAD)
ZOMBIE_STATES = frozenset((TASK_DEAD, TASK_ZOMBIE))

#: CLONE_NEW* flags (ns_file_entry.ns_cflag).
NAMESPACE_FLAGS: tuple[tuple[str, int], ...] = (
    ("CLONE_NEWTIME", 0x00000080),
    ("CLONE_NEWNS", 0x00020000),
    ("CLONE_NEWCGROUP", 0x02000000),
    ("CLONE_NEWUTS", 0x04000000),
    ("CLONE_NEWIPC", 0x08000000),
    ("CLONE_NEWUSER", 0x10000000),
    ("CLONE_NEWPID", 0x20000000),
    ("CLONE_NEWNET", 0x40000000),
)

#: x86 signal numbers (task sigactions are indexed by number - 1).
SIGNALS: dict[int, str] = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP",
    6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1",
    11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
    16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
    21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
    26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR",
    31: "SIGSYS",
}

#: RLIMIT_* resources (task rlimits are indexed by this number).
RLIMITS: tuple[str, ...] = (
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
    "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
    "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
)

#: IFF_* interface flags (net_device_entry.flags).
IFF_FLAGS: tuple[tuple[str, int], ...] = (
    ("UP", 1 << 0), ("BROADCAST", 1 << 1), ("DEBUG", 1 << 2), ("LOOPBACK", 1 << 3),
    ("POINTOPOINT", 1 << 4), ("NOTRAILERS", 1 << 5), ("RUNNING", 1 << 6),
    ("NOARP", 1 << 7), ("PROMISC", 1 << 8), ("ALLMULTI", 1 << 9),
    ("MASTER", 1 << 10), ("SLAVE", 1 << 11), ("MULTICAST", 1 << 12),
    ("PORTSEL", 1 << 13), ("AUTOMEDIA", 1 << 14), ("DYNAMIC", 1 << 15),
    ("LOWER_UP", 1 << 16), ("DORMANT", 1 << 17), ("ECHO", 1 << 18),
)

#: TCPI_OPT_* bits (tcp_stream_entry.opt_mask).
TCPI_OPTS: tuple[tuple[str, int], ...] = (
    ("TIMESTAMPS", 1), ("SACK", 2), ("WSCALE", 4), ("ECN", 8), ("ECN_SEEN", 16),
    ("SYN_DATA", 32),
)

#: user_x86_xsave_entry.xstate_bv bits: the XSAVE state components (Linux
#: enum xfeature) holding live state.  CRIU keeps FP, SSE, YMM, BNDREGS,
#: BNDCSR, OPMASK, ZMM_Hi256, Hi16_ZMM and PKRU; at restore it loads only the
#: components the restoring CPU also has.
XSAVE_FEATURES: tuple[tuple[str, int], ...] = (
    ("XFEATURE_FP", 1 << 0),
    ("XFEATURE_SSE", 1 << 1),
    ("XFEATURE_YMM", 1 << 2),
    ("XFEATURE_BNDREGS", 1 << 3),
    ("XFEATURE_BNDCSR", 1 << 4),
    ("XFEATURE_OPMASK", 1 << 5),
    ("XFEATURE_ZMM_Hi256", 1 << 6),
    ("XFEATURE_Hi16_ZMM", 1 << 7),
    ("XFEATURE_PT", 1 << 8),
    ("XFEATURE_PKRU", 1 << 9),
    ("XFEATURE_PASID", 1 << 10),
    ("XFEATURE_CET_USER", 1 << 11),
    ("XFEATURE_CET_KERNEL", 1 << 12),
    ("XFEATURE_LBR", 1 << 15),
    ("XFEATURE_XTILE_CFG", 1 << 17),
    ("XFEATURE_XTILE_DATA", 1 << 18),
    ("XFEATURE_APX", 1 << 19),
)

#: user_x86_cet_entry.cet bits (arch_prctl ARCH_SHSTK_* features).  A task
#: with ARCH_SHSTK_SHSTK set needs a CPU with shadow stacks to be restored as it was.
ARCH_SHSTK_SHSTK = 1 << 0
CET_FEATURES: tuple[tuple[str, int], ...] = (
    ("ARCH_SHSTK_SHSTK", ARCH_SHSTK_SHSTK),
    ("ARCH_SHSTK_WRSS", 1 << 1),
)

#: core_entry.mtype.
ARCHITECTURES: dict[int, str] = {
    0: "UNKNOWN", 1: "X86_64", 2: "ARM", 3: "AARCH64", 4: "PPC64", 5: "S390",
    6: "MIPS", 7: "LOONGARCH64", 8: "RISCV64",
}

#: the same machine types by their OCI / Go names (an image's platform architecture).
GOARCH: dict[int, str] = {
    1: "amd64", 2: "arm", 3: "arm64", 4: "ppc64le", 5: "s390x", 6: "mips64le", 7: "loong64", 8: "riscv64",
}

#: remap_file_path_entry.remap_type.
REMAP_TYPES: dict[int, str] = {0: "LINKED", 1: "GHOST", 2: "PROCFS"}

#: majors of pseudo-terminal slaves, /dev/pts/N (UNIX98_PTY_SLAVE_MAJOR and the 7 after it)
PTS_MAJOR_FIRST = 136
PTS_MAJOR_LAST = 143
#: tty_info_entry.type.
TTY_TYPES: dict[int, str] = {
    0: "UNKNOWN", 1: "PTY", 2: "CONSOLE", 3: "VT", 4: "CTTY", 5: "EXT_TTY", 6: "SERIAL",
}


#: cpuinfo_x86_entry.capability bits CRIU compares on restore (its x86_ins_capability_mask and the
#: FPU bits of cpu_validate_features), by (word, bit) in CRIU's own word layout (compel's
#: CPUID_* words), with the name Linux shows in /proc/cpuinfo ("osxsave" is not shown there).
X86_CPU_FEATURES: tuple[tuple[str, int, int], ...] = (
    ("fpu", 0, 0), ("tsc", 0, 4), ("cx8", 0, 8), ("sep", 0, 11), ("cmov", 0, 15), ("clflush", 0, 19),
    ("mmx", 0, 23), ("fxsr", 0, 24), ("sse", 0, 25), ("sse2", 0, 26),
    ("syscall", 1, 11), ("mmxext", 1, 22), ("rdtscp", 1, 27), ("3dnowext", 1, 30), ("3dnow", 1, 31),
    ("rep_good", 3, 16), ("nopl", 3, 20),
    ("pni", 4, 0), ("pclmulqdq", 4, 1), ("monitor", 4, 3), ("ssse3", 4, 9), ("fma", 4, 12), ("cx16", 4, 13),
    ("sse4_1", 4, 19), ("sse4_2", 4, 20), ("movbe", 4, 22), ("popcnt", 4, 23), ("aes", 4, 25),
    ("xsave", 4, 26), ("osxsave", 4, 27), ("avx", 4, 28), ("f16c", 4, 29), ("rdrand", 4, 30),
    ("abm", 6, 5), ("sse4a", 6, 6), ("misalignsse", 6, 7), ("3dnowprefetch", 6, 8), ("xop", 6, 11),
    ("fma4", 6, 16), ("tbm", 6, 21),
    ("fsgsbase", 9, 0), ("bmi1", 9, 3), ("hle", 9, 4), ("avx2", 9, 5), ("bmi2", 9, 8), ("erms", 9, 9),
    ("rtm", 9, 11), ("mpx", 9, 14), ("avx512f", 9, 16), ("avx512dq", 9, 17), ("rdseed", 9, 18), ("adx", 9, 19),
    ("clflushopt", 9, 23), ("avx512pf", 9, 26), ("avx512er", 9, 27), ("avx512cd", 9, 28), ("sha_ni", 9, 29),
    ("avx512bw", 9, 30), ("avx512vl", 9, 31),
    ("xsaveopt", 10, 0), ("xsavec", 10, 1), ("xgetbv1", 10, 2), ("xsaves", 10, 3),
    ("avx512vbmi", 11, 1), ("pku", 11, 3), ("ospke", 11, 4), ("avx512_vbmi2", 11, 6), ("gfni", 11, 8),
    ("vaes", 11, 9), ("vpclmulqdq", 11, 10), ("avx512_vnni", 11, 11), ("avx512_bitalg", 11, 12), ("tme", 11, 13),
    ("avx512_vpopcntdq", 11, 14), ("rdpid", 11, 22),
    ("clzero", 13, 0),
    ("avx512_4vnniw", 18, 2), ("avx512_4fmaps", 18, 3),
)

#: the FPU bits CRIU's --cpu-cap=fpu check demands of the restoring CPU when the image has them.
X86_FPU_FEATURES: tuple[str, ...] = ("fpu", "fxsr", "osxsave", "xsaves")

#: inventory_entry.network_lock_method (CRIU's enum NETWORK_LOCK_METHOD).
NETWORK_LOCK_METHODS: dict[int, str] = {0: "iptables", 1: "nftables", 2: "skip"}
