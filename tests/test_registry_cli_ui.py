"""The command line and the UI on docker:// sources (the real distribution registry)."""

from __future__ import annotations

import json
import subprocess
import sys

from ckpt_tui.app import CkptApp
from ckpt_tui.archive.registry import parse
from ckpt_tui.archive.registry.push import push_layout
from ckpt_tui.archive.registry.source import Options, make_client
from ckpt_tui.screens.picker import PickerScreen

from .registry_fixtures import PASSWORD, USER, env_without_auth, skopeo
from .test_ui_app import NOW, SIZE, screen_text
from .test_ui_picker_switching import pick, until

OPTS = Options(tls_verify=False)


def _push(reg, repo_tag, layout, opts=OPTS):
    ref = parse(reg.url(repo_tag))
    client = make_client(ref, opts)
    try:
        return push_layout(client, ref, layout)
    finally:
        client.close()


def run(*args: str, tmp_path, env_extra=None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **{k: v for k, v in env_without_auth(tmp_path).items() if v}, **(env_extra or {})}
    env.pop("REGISTRY_AUTH_FILE", None)
    return subprocess.run([sys.executable, "-m", "ckpt_tui", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_inspect_json_same_as_the_local_archive(registry, images, tmp_path):
    _push(registry, "cli/web:plain", images["web-plain"])
    remote = run("inspect", "--json", registry.url("cli/web:plain"), "--tls-verify=false", tmp_path=tmp_path)
    local = run("inspect", "--json", str(images["web-plain"]), tmp_path=tmp_path)
    assert remote.returncode == 0, remote.stderr
    r, lo = json.loads(remote.stdout), json.loads(local.stdout)
    assert r["processes"] == lo["processes"] and r["container"]["name"] == lo["container"]["name"] == "web"
    assert r["source"]["path"] == registry.url("cli/web:plain")


def test_plain_http_needs_tls_verify_false(registry, images, tmp_path):
    _push(registry, "cli/web:plain", images["web-plain"])
    got = run("inspect", registry.url("cli/web:plain"), tmp_path=tmp_path)
    assert got.returncode == 2 and "needs --tls-verify=false" in got.stderr and "Traceback" not in got.stderr


def test_platform_option(registry, images, tmp_path):
    _push(registry, "cli/web:plain", images["web-plain"])  # an index naming linux/amd64
    got = run("inspect", registry.url("cli/web:plain"), "--tls-verify=false", "--platform", "linux/s390x",
              tmp_path=tmp_path)
    assert got.returncode == 2 and "no image for platform linux/s390x (the index has linux/amd64)" in got.stderr
    got = run("inspect", registry.url("cli/web:plain"), "--tls-verify", "--platform", "linux", tmp_path=tmp_path)
    assert got.returncode == 2 and "expected OS/ARCH" in got.stderr
    # a bare --tls-verify (true) before the PATH does not take the PATH as its value
    got = run("inspect", "--tls-verify", registry.url("cli/web:plain"), tmp_path=tmp_path)
    assert got.returncode == 2 and "needs --tls-verify=false" in got.stderr
    got = run("--tls-verify=false", "inspect", registry.url("cli/web:plain"), "--json", tmp_path=tmp_path)
    assert got.returncode == 0 and json.loads(got.stdout)["container"]["name"] == "web", got.stderr


def test_authfile_option(registry_auth, images, tmp_path):
    import base64

    _push(registry_auth, "cli/auth:1", images["web-plain"], Options(tls_verify=False, creds=f"{USER}:{PASSWORD}"))
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"auths": {registry_auth.host: {
        "auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}))
    got = run("inspect", registry_auth.url("cli/auth:1"), "--tls-verify=false", "--authfile", str(authfile),
              tmp_path=tmp_path)
    assert got.returncode == 0, got.stderr
    # the default place: $XDG_RUNTIME_DIR/containers/auth.json
    (tmp_path / "run" / "containers").mkdir(parents=True)
    (tmp_path / "run" / "containers" / "auth.json").write_text(authfile.read_text())
    got = run("list", registry_auth.url("cli/auth"), "--tls-verify=false", tmp_path=tmp_path)
    assert got.returncode == 0 and registry_auth.url("cli/auth:1") in got.stdout, got.stderr


def test_list_tags_and_catalog(registry, images, tmp_path):
    _push(registry, "cli/list:plain", images["web-plain"])
    got = run("list", registry.url("cli/list"), "--tls-verify=false", tmp_path=tmp_path)
    assert got.returncode == 0, got.stderr
    assert registry.url("cli/list:plain") in got.stdout and "Podman" in got.stdout  # not cut when piped
    got = run("list", "--catalog", f"docker://{registry.host}", "--tls-verify=false", tmp_path=tmp_path)
    assert got.returncode == 0 and registry.url("cli/list:plain") in got.stdout
    got = run("list", "--catalog", str(tmp_path), tmp_path=tmp_path)
    assert got.returncode == 2 and "--catalog lists registries" in got.stderr


def test_build_pushes_and_prints_the_digest(registry_auth, images, tmp_path):
    from .conftest import DATA

    url = registry_auth.url("cli/pushed:1")
    got = run("build", str(DATA / "web-httpd.tar.zst"), url, "--tls-verify=false", "-q", tmp_path=tmp_path)
    assert got.returncode == 2 and "authentication required" in got.stderr
    got = run("build", str(DATA / "web-httpd.tar.zst"), url, "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}",
              "-q", "--oci-dir", str(tmp_path / "lay"), tmp_path=tmp_path)
    assert got.returncode == 0, got.stderr
    digest = got.stdout.strip().splitlines()[-1]
    assert digest == "sha256:" + __import__("hashlib").sha256((tmp_path / "lay" / "index.json").read_bytes()).hexdigest()
    info = skopeo("inspect", "--tls-verify=false", *registry_auth.skopeo_creds(), "--raw", url)
    assert info.returncode == 0 and info.stdout.encode() == (tmp_path / "lay" / "index.json").read_bytes()
    # from the registry to the registry: the layer is the same bytes, so it is mounted, not sent
    # again (the config differs: the layer's tar gives no checkpoint time, so `created` is another)
    again = run("build", url, registry_auth.url("cli/copy:1"), "--tls-verify=false", "--creds",
                f"{USER}:{PASSWORD}", tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "(1 blobs uploaded, 0 there already, 1 mounted)" in again.stdout
    as_json = run("build", url, registry_auth.url("cli/copy:2"), "--tls-verify=false", "--creds",
                  f"{USER}:{PASSWORD}", "--json", tmp_path=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["pushed"]["reference"] == registry_auth.url("cli/copy:2") and len(doc["pushed"]["existing"]) == 2
    assert doc["pushed"]["digest"] == doc["index_digest"]


def test_build_push_refuses_output_and_creds_without_password(registry, images, tmp_path):
    from .conftest import DATA

    got = run("build", str(DATA / "web-httpd.tar.zst"), registry.url("x/y:1"), "--output", str(tmp_path / "o.tar"),
              tmp_path=tmp_path)
    assert got.returncode == 2 and "writes no --output archive" in got.stderr
    got = run("inspect", registry.url("x/y:1"), "--creds", "bob", tmp_path=tmp_path)
    assert got.returncode == 2 and "no password given" in got.stderr


def test_restore_from_a_registry_says_what_to_do(registry, images, tmp_path):
    _push(registry, "cli/web:plain", images["web-plain"])
    got = run("restore", registry.url("cli/web:plain"), "--tls-verify=false", "--dry-run", tmp_path=tmp_path)
    assert got.returncode == 2 and "podman pull" in got.stderr


def test_no_urllib3_for_local_paths(tmp_path):
    from .conftest import DATA

    code = ("import sys, ckpt_tui.cli as c; c.main(['inspect', '--json', sys.argv[1]]); "
            "print('urllib3' in sys.modules, file=sys.stderr)")
    got = subprocess.run([sys.executable, "-c", code, str(DATA / "web-httpd.tar.zst")], capture_output=True,
                         text=True, timeout=120)
    assert got.returncode == 0 and got.stderr.strip().splitlines()[-1] == "False"


async def test_ui_lists_a_repository_and_opens_a_tag(registry, images, monkeypatch):
    import ckpt_tui.archive.registry.source as rs

    monkeypatch.setattr(rs, "_defaults", Options(tls_verify=False))
    _push(registry, "ui/web:plain", images["web-plain"])
    _push(registry, "ui/web:mem", images["mem-plain"])
    app = CkptApp(registry.url("ui/web"), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await until(app, pilot, lambda: isinstance(app.screen, PickerScreen))
        text = screen_text(app)
        assert "web:plain" in text and "web:mem" in text and "mem16" in text
        await pick(app, pilot, "web:plain")
        await until(app, pilot, lambda: app.checkpoint is not None)
        assert app.checkpoint.info.name == "web"
        assert sorted(app.checkpoint.processes) == [1, 10, 13]
