"""Secrets: in environments and command lines, in memory, in files of the root FS diff.

Every secret is found by the masking module's rules (:func:`ckpt_tui.model.masking.find_secrets`);
a value in a recognised credential format is ``high``, the value of a secret-looking name
``medium``. The same value in several places is one finding, with the other places in ``also``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ...model import Checkpoint, MemoryMatch, Process
from ...model.masking import ASSIGNMENT, SecretHit, find_secrets, should_mask
from .findings import ALSO_KEPT, Finding, Level, Link, Where

ENV_RULE = "secret-in-environment"
ARGV_RULE = "secret-in-command-line"
MEMORY_RULE = "secret-in-memory"
FILE_RULE = "secret-in-file"
KEY_FILE_RULE = "credentials-file"

# files that hold credentials by what they are (paths relative to the root, lower case)
CREDENTIAL_NAMES = {
    "id_rsa": "SSH private key", "id_dsa": "SSH private key", "id_ecdsa": "SSH private key",
    "id_ed25519": "SSH private key", ".netrc": "netrc credentials", ".pgpass": "PostgreSQL password file",
    ".git-credentials": "git credentials", ".npmrc": "npm configuration (tokens)", ".pypirc": "PyPI credentials",
    "credentials.json": "credentials file", ".htpasswd": "password file", "shadow": "password hashes",
}
CREDENTIAL_PATHS = {
    ".aws/credentials": "AWS credentials", ".docker/config.json": "registry credentials",
    ".kube/config": "Kubernetes credentials", "etc/shadow": "password hashes", "etc/gshadow": "group password hashes",
    ".config/gcloud/credentials.db": "Google Cloud credentials",
}
CREDENTIAL_SUFFIXES = {".pem": "PEM file", ".key": "key file", ".p12": "PKCS#12 key store",
                       ".pfx": "PKCS#12 key store", ".jks": "Java key store", ".keystore": "key store"}


def level_of(hit: SecretHit) -> Level:
    """A recognised credential format is high; a value known only by its name medium."""
    return "medium" if hit.rule is ASSIGNMENT else "high"


@dataclass
class _Group:
    """Places of one secret value, in order of discovery."""

    hit: SecretHit
    value: str
    wheres: list[Where]
    links: list[Link | None]


class SecretBook:
    """Collects secrets by (rule, name, value); each becomes one finding."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.groups: dict[tuple[str, str, str], _Group] = {}

    def add(self, hit: SecretHit, value: bytes, where: Where, link: Link | None = None) -> None:
        text = value.decode("utf-8", "surrogateescape")
        key = (hit.rule.id, hit.name, text)
        group = self.groups.get(key)
        if group is None:
            self.groups[key] = _Group(hit, text, [where], [link])
        else:
            group.wheres.append(where)
            group.links.append(link)

    def findings(self, place: Callable[[Where], str]) -> Iterator[Finding]:
        """One finding per value; ``place`` says where its first copy is, in words."""
        for group in self.groups.values():
            hit = group.hit
            first = group.wheres[0]
            if hit.rule is ASSIGNMENT:
                what = f"value of {hit.name}" if hit.name else hit.rule.title
            else:
                what = hit.rule.title + (f" ({first.name})" if first.name and first.name != "command line" else "")
            count = len(group.wheres)
            more = f" (and {count - 1} more place{'s' if count > 2 else ''})" if count > 1 else ""
            yield Finding(self.rule, "secrets", level_of(hit), f"{what} in {place(first)}{more}: {{value}}",
                          first, detail=f"found by the rule {hit.rule.id} ({hit.rule.title})", value=group.value,
                          secret_rule=hit.rule.id, count=count, also=tuple(group.wheres[1:1 + ALSO_KEPT]),
                          link=group.links[0])


# -- environments and command lines ------------------------------------------------
def env_and_argv(ck: Checkpoint, container: str = "") -> list[Finding]:
    env, argv = SecretBook(ENV_RULE), SecretBook(ARGV_RULE)
    for proc in ck.process_list():
        link = Link("process", pid=proc.pid, container=container)
        for var in proc.env:
            raw = var.raw.encode("utf-8", "surrogateescape")
            hits = list(find_secrets(raw))
            for hit in hits:
                env.add(hit, hit.value(raw), Where(pid=proc.pid, name=var.name or var.raw, offset=_off(hit, var.name),
                                                   container=container), link)
            if not hits and not var.malformed and should_mask(var.name, var.value):
                # too short for the assignment rule (PASSWORD=abc) and still masked by the panes
                whole = SecretHit(ASSIGNMENT, len(var.name) + 1, len(raw), var.name)
                env.add(whole, whole.value(raw), Where(pid=proc.pid, name=var.name, container=container), link)
        raw = b"\0".join(a.encode("utf-8", "surrogateescape") for a in proc.cmdline)
        for hit in find_secrets(raw):
            argv.add(hit, hit.value(raw), Where(pid=proc.pid, name="command line", offset=hit.start,
                                                container=container), link)
    return [*env.findings(lambda w: f"the environment of {w.process}"),
            *argv.findings(lambda w: f"the command line of {w.process}")]


def _off(hit: SecretHit, name: str) -> int | None:
    """Where in a variable's value a secret starts: None when it is the whole value."""
    return None if hit.start == len(name) + 1 else hit.start


# -- memory --------------------------------------------------------------------------
def classify(m: MemoryMatch) -> SecretHit | None:
    """The rule behind a memory match of the secrets pattern: the masking rules run again over the
    match and its context, and the hit with the match's own span is it."""
    data = m.before + m.match + m.after
    lo, hi = len(m.before), len(m.before) + len(m.match)
    for hit in find_secrets(data):
        if hit.start == lo and hit.end == hi:
            return hit
    return None


def _in_args(proc: Process, address: int) -> bool:
    """Inside the process's argv or environment strings (reported as such, not as memory)."""
    mm = proc.mm
    return any(mm.get(f"{k}_start", 0) <= address < mm.get(f"{k}_end", 0) for k in ("mm_arg", "mm_env"))


def memory(ck: Checkpoint, matches: Iterable[MemoryMatch], container: str = "") -> list[Finding]:
    book = SecretBook(MEMORY_RULE)
    for m in matches:
        proc = ck.processes.get(m.pid)
        if proc is None or _in_args(proc, m.address):
            continue
        hit = classify(m)
        if hit is None:
            continue
        where = Where(pid=m.pid, address=m.address, vma=m.vma.label if m.vma else "",
                      vma_start=m.vma.start if m.vma else None, container=container)
        book.add(hit, m.match, where, Link("hex", pid=m.pid, address=m.address, container=container))
    return list(book.findings(lambda w: f"the memory of {w.process} at {w.address:#x} ({w.vma or '?'})"))


# -- files of the root FS diff ------------------------------------------------------------
def credential_kind(path: str) -> str:
    """What a file is by its path when it holds credentials by nature ("" when it does not)."""
    rel = path.strip("/").lower()
    for tail, what in CREDENTIAL_PATHS.items():
        if rel == tail or rel.endswith("/" + tail):
            return what
    base = posixpath.basename(rel)
    if base in CREDENTIAL_NAMES and not (base == "shadow" and not rel.startswith("etc/")):
        return CREDENTIAL_NAMES[base]
    if base == ".env" or base.startswith(".env.") or base.endswith(".env"):
        return "environment file"
    for suffix, what in CREDENTIAL_SUFFIXES.items():
        if base.endswith(suffix):
            return what
    return ""


def files(contents: Iterable[tuple[str, bytes]], container: str = "") -> list[Finding]:
    """Findings for the files given as (absolute path, leading bytes): every secret in them, and
    credentials files even when no rule recognises what they hold."""
    out: list[Finding] = []
    for path, data in contents:
        link = Link("file", path=path, container=container)
        book = SecretBook(FILE_RULE)
        for hit in find_secrets(data):
            book.add(hit, hit.value(data), Where(path=path, offset=hit.start, container=container), link)
        found = list(book.findings(lambda w: w.path + (f" (container {w.container})" if w.container else "")))
        kind = credential_kind(path)
        if kind and not found:
            out.append(Finding(KEY_FILE_RULE, "secrets", "medium", f"{kind} in the root FS diff: {path}",
                               Where(path=path, container=container), link=link))
        out.extend(found)
    return out
