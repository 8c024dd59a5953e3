"""The scan (issue #17): secrets, processes, root FS and waste findings.

The real fixtures hold few things worth a look (ps-tree's DB_PASSWORD, memhog's heap token,
web's undeclared listener), so the rest is planted in checkpoints derived from them with the
project's own image writer (tests/scankit.py says what each one plants, and how)."""

from __future__ import annotations

import pytest

from ckpt_tui.actions.scan import LEVELS, at_or_above, level_rank, scan, scan_path
from ckpt_tui.errors import CkptError
from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.masking import MASK
from ckpt_tui.model.memory import PAGE_SIZE

from . import scankit
from .conftest import DATA


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The three planted checkpoints, each as a directory and as a zstd archive."""
    base = tmp_path_factory.mktemp("scan")
    out = {}
    for name in ("intruder", "tampered_rootfs", "own_binary"):
        root = getattr(scankit, name)(base / name)
        out[name] = root
        out[name + ".zst"] = scankit.pack(root, base / f"{name}.tar.zst")
    return out


def _report(path):
    ck, report = scan_path(path)
    ck.close()
    return report


def _by_id(report):
    return {f.id: f for f in report.findings}


def test_intruder_planted_findings(planted):
    """Derived from tcp-established: an AWS key in pid 1's environment, a PEM key in its heap, an
    nc child with an ESTABLISHED socket that the container's command does not start, a setuid
    file and an executable in a hidden /tmp directory in the root FS diff."""
    found = _by_id(_report(planted["intruder"]))
    env = found["secret-in-environment:pid=1:AWS_ACCESS_KEY_ID"]
    assert env.level == "high" and env.secret_rule == "aws-access-key-id" and env.value == scankit.AWS_KEY
    assert scankit.AWS_KEY not in env.text() and MASK in env.text() and scankit.AWS_KEY in env.text(reveal=True)
    pem = found[f"secret-in-memory:pid=1:{scankit.PEM_ADDRESS:#x}"]
    assert pem.level == "high" and pem.secret_rule == "pem-private-key" and pem.value.encode() == scankit.PEM
    assert pem.where.vma == "[heap]" and pem.link.kind == "hex" and pem.link.address == scankit.PEM_ADDRESS
    nc = found["late-network-tool:pid=8"]
    assert nc.level == "high" and "ESTABLISHED" in nc.title and nc.link.kind == "process"
    assert found["setuid-file:/usr/local/bin/helper"].level == "high"
    assert found["new-executable:/tmp/.x/payload"].level == "high"
    assert found["hidden-directory:/tmp/.x"].level == "medium"
    # the PEM is reported once, as memory; the AWS key once, as the environment (not again as
    # the memory that holds the environment strings)
    assert [f.secret_rule for f in found.values() if f.category == "secrets"].count("aws-access-key-id") == 1


def test_streaming_and_kept_pages_give_the_same_report(planted):
    """The zstd archive is scanned as its pages stream past (never kept); the directory through
    the memory readers: the same findings, the same waste."""
    for name in ("intruder", "tampered_rootfs", "own_binary"):
        a, b = _report(planted[name]), _report(planted[name + ".zst"])
        assert [(f.id, f.level, f.value, f.count) for f in a.findings] == \
               [(f.id, f.level, f.value, f.count) for f in b.findings], name
        assert a.waste.by_rule == b.waste.by_rule and a.waste.score == b.waste.score


def test_memory_secrets_are_where_memsearch_finds_them():
    """memhog keeps API_TOKEN=tok_live_... on its heap (a real fixture): the scan's finding sits
    at the address memsearch gives for the value."""
    from ckpt_tui.model.patterns import parse_pattern
    from ckpt_tui.model.tap import load_and_search

    ck, matches = load_and_search(DATA / "memhog-16m-threads.tar.zst", parse_pattern("tok_live_4f8a2c91e7b3"))
    ck.close()
    [m] = matches
    [f] = [f for f in _report(DATA / "memhog-16m-threads.tar.zst").findings if f.rule == "secret-in-memory"]
    assert f.where.address == m.address and f.value == "tok_live_4f8a2c91e7b3" and f.level == "medium"
    assert f.where.vma == m.vma.label


def test_environment_secret_counts_every_process_that_has_it():
    """ps-tree's DB_PASSWORD=hunter2 is inherited: one finding, every process that has it."""
    with load_checkpoint(DATA / "ps-tree.tar.gz") as ck:
        having = sorted(p.pid for p in ck.process_list() if ck.processes[p.pid].env_dict.get("DB_PASSWORD"))
        report = scan(ck)
    [f] = [f for f in report.findings if f.rule == "secret-in-environment"]
    assert f.count == len(having) and [f.where.pid, *(w.pid for w in f.also)] == having
    assert f.value == "hunter2" and f.level == "medium"


def test_real_fixtures_have_nothing_high():
    """None of the real fixtures has anything of level high: a CI gate on them passes."""
    for name in ("web-httpd.tar.zst", "ps-tree.tar.gz", "tcp-server.tar.zst", "tcp-established.tar.zst",
                 "memhog-16m-threads.tar.zst", "ps-tree-uncompressed.tar"):
        report = _report(DATA / name)
        assert not at_or_above(report.findings, "high"), (name, [f.id for f in at_or_above(report.findings, "high")])
    web = _by_id(_report(DATA / "web-httpd.tar.zst"))
    assert web["unexpected-listener:pid=10:fd=3"].level == "low"  # httpd on 8080, which nothing publishes
    assert web["etc-changed:/etc/motd"].level == "low"


def test_nc_from_the_containers_own_command_is_not_high():
    """tcp-server's command is `... | nc -l -p 9000`: its nc (with its socket) is spelled out in
    the container's command, which lowers the level; the derived intruder's is not."""
    found = _by_id(_report(DATA / "tcp-server.tar.zst"))
    assert found["late-network-tool:pid=7"].level == "medium"


def test_tampered_rootfs(planted):
    """Derived from web-httpd's root FS diff (see scankit.tampered_rootfs)."""
    found = _by_id(_report(planted["tampered_rootfs"]))
    assert found["authorized-keys:/root/.ssh/authorized_keys"].level == "high"
    assert found["crontab:/etc/cron.d/update"].level == "high"
    assert found["etc-changed:/etc/ld.so.preload"].level == "high"
    key = found["secret-in-file:/root/.ssh/id_rsa:+0"]
    assert key.secret_rule == "pem-private-key" and key.link.kind == "file" and key.link.path == "/root/.ssh/id_rsa"
    stripe = found["secret-in-file:/srv/app/.env:+11"]
    assert stripe.value == scankit.STRIPE and stripe.level == "high"
    assert found["credentials-file:/root/.aws/credentials"].level == "medium"  # no rule matches its content
    logs = found["logs-and-caches:/var/log"]
    assert logs.size == len(b"2026-11-23 GET /\n" * 12800) and logs.category == "waste"


def test_own_binary_and_its_clean_pages(planted):
    """Derived from memhog: /bin/memhog in the root FS diff, holding at its read-only mappings'
    offsets the very pages the dump has of them."""
    with load_checkpoint(planted["own_binary"]) as ck:
        ro = sum(v.pages_present for v in ck.processes[1].vmas if v.path == "/bin/memhog" and v.perms[1] != "w")
        report = scan(ck)
    assert _by_id(report)["exe-from-diff:pid=1"].level == "high"
    assert report.waste.by_rule["read-only-file-pages"] == ro * PAGE_SIZE
    # without the file in the diff nothing says those pages are the file's: not counted
    assert "read-only-file-pages" not in _report(DATA / "memhog-16m-threads.tar.zst").waste.by_rule


def _pages(ck):
    """Every dumped page of every live process, read through the memory readers."""
    for proc in ck.process_list():
        if not proc.alive:
            continue
        reader = ck.memory(proc.pid)
        for vaddr, _offset, length in reader.present_spans():
            for addr in range(vaddr, vaddr + length, PAGE_SIZE):
                yield proc.pid, addr, reader.read(addr, PAGE_SIZE)


def test_zero_and_repeated_pages_counted_by_their_bytes(tmp_path):
    """Derived from memhog: 1 MiB of its 16 MiB buffer zeroed and the next MiB a copy of the one
    before it. The tally (64-bit page hashes) against the pages compared byte for byte."""
    root = scankit.unpack("memhog-16m-threads.tar.zst", tmp_path / "m")
    with load_checkpoint(root) as ck:
        big = max(ck.processes[1].vmas, key=lambda v: v.pages_present)
        copy = ck.memory(1).read(big.start + (4 << 20), 1 << 20)
    scankit.write_memory(root, 1, big.start + (1 << 20), bytes(1 << 20))
    scankit.write_memory(root, 1, big.start + (5 << 20), copy)
    with load_checkpoint(root) as ck:
        zero = repeat = 0
        seen: set[bytes] = set()
        for _pid, _addr, page in _pages(ck):
            if page == bytes(PAGE_SIZE):
                zero += 1
            elif page in seen:
                repeat += 1
            else:
                seen.add(page)
        report = scan(ck)
    assert zero >= 256 and repeat >= 256
    assert report.waste.by_rule.get("zero-pages", 0) == zero * PAGE_SIZE
    assert report.waste.by_rule.get("repeated-pages", 0) == repeat * PAGE_SIZE
    w = report.waste
    assert w.wasted == sum(w.by_rule.values()) and w.score == pytest.approx(1 - w.wasted / w.total)
    assert [i.size for i in w.items] == sorted((i.size for i in w.items), reverse=True)
    top = {i.title for i in w.items[:2]}
    assert top == {f"1.0 MiB of zero-filled pages in pid 1 {big.label}", "1.0 MiB of pages in pid 1 repeat pages of its own"}


def test_ids_are_stable_and_unique(planted):
    a, b = _report(planted["tampered_rootfs"]), _report(planted["tampered_rootfs.zst"])
    ids = [f.id for f in a.findings]
    assert len(set(ids)) == len(ids) and ids == [f.id for f in b.findings]
    assert [f.rank for f in a.findings] == sorted((f.rank for f in a.findings), reverse=True)


def test_gate_and_levels(planted):
    report = _report(planted["intruder"])
    assert all(f.level in ("high", "critical") for f in at_or_above(report.findings, "high"))
    assert len(at_or_above(report.findings, "info")) == len(report.findings)
    assert len(at_or_above(report.findings, "medium")) > len(at_or_above(report.findings, "high")) > 0
    assert [level_rank(x) for x in LEVELS] == [0, 1, 2, 3, 4]
    with pytest.raises(CkptError, match="unknown level"):
        level_rank("severe")


def test_json_masks_unless_revealed(planted):
    report = _report(planted["intruder"])
    masked, shown = report.to_json(), report.to_json(reveal=True)
    assert scankit.AWS_KEY not in str(masked) and scankit.AWS_KEY in str(shown)
    assert all(f["value"] == MASK and f["masked"] for f in masked["findings"] if "value" in f)
    assert masked["summary"]["failing"] == len(at_or_above(report.findings, "high"))


def test_no_memory_scan_says_so(planted):
    ck, report = scan_path(planted["intruder.zst"], memory=False)
    ck.close()
    assert not any(f.rule == "secret-in-memory" for f in report.findings)
    assert report.waste.memory_scanned is False and any("memory not scanned" in m for m in report.limits)
    assert "secret-in-environment:pid=1:AWS_ACCESS_KEY_ID" in _by_id(report)  # argv/environ come along


def test_a_pod_is_scanned_container_by_container(tmp_path):
    """The pod of tests/test_cli_pods.py (web-httpd and ps-tree as two containers): every finding
    names its container, in its id too."""
    from .test_cli_pods import _pod_dir

    found = _by_id(_report(_pod_dir(tmp_path)))
    env = found["secret-in-environment:container=tree:pid=1:DB_PASSWORD"]
    assert env.value == "hunter2" and "in container tree" in env.title
    assert found["unexpected-listener:container=web:pid=10:fd=3"].where.container == "web"


def test_a_damaged_checkpoint_is_scanned_as_far_as_it_goes():
    """broken-missing-pages.tar (real: web-httpd without pages-2.img): the rest is scanned and
    the report says what it could not see."""
    report = _report(DATA / "broken-missing-pages.tar")
    assert "unexpected-listener:pid=10:fd=3" in _by_id(report)
    assert any("pages-2.img" in m and "pid 10" in m for m in report.limits)


def test_a_file_deleted_while_open(tmp_path):
    """Derived from tcp-server: remap-fpath.img marks pid 7's /tmp/got (fd 1) a ghost file."""
    root = scankit.deleted_while_open(tmp_path / "ghost")
    with load_checkpoint(root) as ck:
        [got] = [f for f in ck.processes[7].files if f.fd == 1]
        assert got.path == "/tmp/got" and got.details["unlinked"] == "ghost"
        report = scan(ck, memory=False)
    f = _by_id(report)["deleted-open-file:pid=7:fd=1"]
    assert f.level == "medium" and "/tmp/got" in f.title
    assert "deleted-open-file:pid=7:fd=1" not in _by_id(_report(DATA / "tcp-server.tar.zst"))


def test_the_policy_gate(planted):
    """gate() is what check --rules' no_secrets needs: the secrets at or above a level."""
    from ckpt_tui.actions.scan import gate

    with load_checkpoint(planted["intruder"]) as ck:
        high = gate(ck, "high")
        assert {f.secret_rule for f in high} == {"aws-access-key-id", "pem-private-key"}
        assert {f.category for f in gate(ck, "high", categories=())} == {"secrets", "processes", "rootfs"}
        with pytest.raises(CkptError, match="unknown level"):
            gate(ck, "severe")
    with load_checkpoint(DATA / "ps-tree.tar.gz") as ck:
        assert gate(ck, "high") == [] and [f.value for f in gate(ck, "medium")] == ["hunter2"]
    # opened for its overview only: the environments are scanned, the memory is said to be not
    with load_checkpoint(planted["intruder.zst"], keep_pages=False) as ck:
        report = scan(ck)
        assert any("not scanned" in m for m in report.limits)
        assert [f.secret_rule for f in gate(ck, "high")] == ["aws-access-key-id"]
