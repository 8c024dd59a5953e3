"""What a restore of a checkpoint asks of the host, as its images record it.

- :class:`CpuInfo`: ``cpuinfo.img`` (written by ``criu dump --cpu-cap``): the CPU's feature words
  in CRIU's layout, its xsave features and sizes, which CRIU compares with the restoring CPU.
  :func:`cpuinfo_from_image` also reads the one ``criu cpuinfo dump`` writes for a host.
- :class:`Inventory`: ``inventory.img``'s requirements: plugins, the LSM, the network-lock
  method, uprobes, the root task's namespace ids.
- the names of xsave components (``Thread.xstate_bv``) and of the capability numbers, and the
  xsave components a CPU with some ``/proc/cpuinfo`` flags has.

Plain data; decoding goes through ``ckpt_tui.criu``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..criu import constants as C
from ..errors import CkptError
from .types import Creds, PbMessage

__all__ = ["CpuInfo", "Inventory", "cap_number", "cpuinfo_from_image", "highest_cap", "inventory_of",
           "xfeatures_from_flags", "xsave_names"]

_VENDORS = {0: "unknown", 1: "Intel", 2: "AMD"}
_LSM = {"NO_LSM": "", "SELINUX": "selinux", "APPARMOR": "apparmor", 0: "", 1: "selinux", 2: "apparmor"}


def xsave_names(mask: int) -> list[str]:
    """``XFEATURE_FP``, ``XFEATURE_YMM``... for the bits of an xsave features mask."""
    return C.flag_names(mask, C.XSAVE_FEATURES)


def _xbits(*names: str) -> int:
    table = dict(C.XSAVE_FEATURES)
    out = 0
    for n in names:
        out |= table[n]
    return out


# which /proc/cpuinfo flag brings which xsave state components (Linux's xfeature dependencies)
_FLAG_XFEATURES: tuple[tuple[str, int], ...] = (
    ("fpu", _xbits("XFEATURE_FP")),
    ("sse", _xbits("XFEATURE_SSE")),
    ("avx", _xbits("XFEATURE_YMM")),
    ("mpx", _xbits("XFEATURE_BNDREGS", "XFEATURE_BNDCSR")),
    ("avx512f", _xbits("XFEATURE_OPMASK", "XFEATURE_ZMM_Hi256", "XFEATURE_Hi16_ZMM")),
    ("ospke", _xbits("XFEATURE_PKRU")),
    ("user_shstk", _xbits("XFEATURE_CET_USER")),
    ("amx_tile", _xbits("XFEATURE_XTILE_CFG", "XFEATURE_XTILE_DATA")),
)


def xfeatures_from_flags(flags: Iterable[str]) -> int:
    """The user xsave components a CPU with these ``/proc/cpuinfo`` flags saves (0 without xsave)."""
    have = set(flags)
    if "xsave" not in have:
        return 0
    out = 0
    for flag, bits in _FLAG_XFEATURES:
        if flag in have:
            out |= bits
    return out


@dataclass(frozen=True)
class CpuInfo:
    """One x86 CPU as ``cpuinfo.img`` records it."""

    vendor: str = "unknown"  # "Intel", "AMD", "unknown"
    family: int = 0
    model: int = 0
    stepping: int = 0
    model_id: str = ""
    capability_ver: int = 0
    words: tuple[int, ...] = ()  # feature words in CRIU's layout (compel's CPUID_* words)
    xfeatures_mask: int | None = None
    xsave_size: int | None = None
    xsave_size_max: int | None = None

    def has(self, flag: str) -> bool:
        """The feature (by its /proc/cpuinfo name, as in ``criu.constants.X86_CPU_FEATURES``) is set."""
        for name, word, bit in C.X86_CPU_FEATURES:
            if name == flag:
                return word < len(self.words) and bool(self.words[word] >> bit & 1)
        return False

    @property
    def flags(self) -> list[str]:
        """Every feature CRIU compares that this CPU has, by its /proc/cpuinfo name."""
        return [name for name, _w, _b in C.X86_CPU_FEATURES if self.has(name)]

    @property
    def xfeatures(self) -> list[str]:
        return xsave_names(self.xfeatures_mask or 0)


def cpuinfo_from_image(data: bytes, name: str = "cpuinfo.img") -> CpuInfo | None:
    """The x86 CPU a ``cpuinfo.img`` describes; None when it holds no x86 entry (another arch).
    CkptError when it cannot be decoded."""
    from ..criu import decode_image  # protobuf: only for a cpuinfo image (host-profile reads none)

    img = decode_image(data, name)
    if not img.entries:
        raise CkptError(f"{name} holds no entry")
    msg: PbMessage = img.entries[0].message  # a cpuinfo_entry
    if not len(msg.x86_entry):
        return None
    e = msg.x86_entry[0]
    return CpuInfo(
        vendor=_VENDORS.get(e.vendor_id, str(e.vendor_id)), family=e.cpu_family, model=e.model,
        stepping=e.stepping, model_id=e.model_id if e.HasField("model_id") else "",
        capability_ver=e.capability_ver, words=tuple(int(w) for w in e.capability),
        xfeatures_mask=e.xfeatures_mask if e.HasField("xfeatures_mask") else None,
        xsave_size=e.xsave_size if e.HasField("xsave_size") else None,
        xsave_size_max=e.xsave_size_max if e.HasField("xsave_size_max") else None,
    )


@dataclass(frozen=True)
class Inventory:
    """What ``inventory.img`` asks of the restore."""

    img_version: int | None = None
    lsm: str = ""  # "", "selinux", "apparmor": the LSM active at dump time
    network_lock: str = "iptables"  # how CRIU locks the network: "iptables", "nftables", "skip"
    plugins: tuple[str, ...] = ()  # CRIU plugins that took part in the dump ("cuda_plugin", ...)
    allow_uprobes: bool = False
    tcp_close: bool = False
    pre_dump_mode: int | None = None
    root_ids: Mapping[str, int] = field(default_factory=dict)  # the root task's namespace and object ids


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def inventory_of(raw: Mapping[str, object]) -> Inventory:
    """The typed inventory of ``Checkpoint.inventory`` (the image rendered as a dict)."""
    lock = raw.get("network_lock_method", 0)
    lock_name = C.NETWORK_LOCK_METHODS.get(lock, str(lock)) if isinstance(lock, int) else str(lock).lower()
    plugins_entry = raw.get("plugins_entry")
    plugins: tuple[str, ...] = ()
    if isinstance(plugins_entry, Mapping):
        names = plugins_entry.get("plugins")
        if isinstance(names, list):
            plugins = tuple(str(n) for n in names)
    ids = raw.get("root_ids")
    root_ids = {str(k): v for k, v in ids.items() if isinstance(v, int)} if isinstance(ids, Mapping) else {}
    lsm = raw.get("lsmtype", "NO_LSM")
    return Inventory(
        img_version=_int(raw.get("img_version")),
        lsm=_LSM.get(lsm, str(lsm).lower()) if isinstance(lsm, (str, int)) else "",
        network_lock=lock_name, plugins=plugins,
        allow_uprobes=raw.get("allow_uprobes") is True, tcp_close=raw.get("tcp_close") is True,
        pre_dump_mode=_int(raw.get("pre_dump_mode")), root_ids=root_ids,
    )


def cap_number(name: str) -> int:
    """21 for ``CAP_SYS_ADMIN``; the number of a ``CAP_<n>`` newer than the table; -1 otherwise."""
    if name in C.CAPABILITIES:
        return C.CAPABILITIES.index(name)
    tail = name[4:] if name.startswith("CAP_") else ""
    return int(tail) if tail.isdigit() else -1


def highest_cap(creds: Creds) -> int:
    """The highest capability number in any of the task's sets (-1 for none)."""
    names = creds.cap_eff + creds.cap_prm + creds.cap_inh + creds.cap_bnd + creds.cap_amb
    return max((cap_number(n) for n in names), default=-1)
