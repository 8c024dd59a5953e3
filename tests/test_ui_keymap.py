"""The user's keymap (``$XDG_CONFIG_HOME/ckpt-tui/keymap.toml``), the footer and the help with
remapped keys, the README's table of binding ids, and the footer at 120 columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from ckpt_tui.app import CkptApp
from ckpt_tui.screens.dialogs import PromptScreen
from ckpt_tui.screens.help import HelpScreen
from ckpt_tui.screens.memory import SearchScreen
from ckpt_tui.ui.keymap import bindings, keymap_path, markdown_table, parse_keymap
from tests.test_ui_app import DATA, NOW, settle

README = Path(__file__).resolve().parent.parent / "README.md"


async def start(tmp_path: Path, keymap_text: str | None, fixture: str = "web-httpd.tar.zst", size=(120, 40)):
    config = tmp_path / "config"
    if keymap_text is not None:
        (config / "ckpt-tui").mkdir(parents=True)
        (config / "ckpt-tui" / "keymap.toml").write_text(keymap_text)
    return CkptApp(str(DATA / fixture), now=NOW, keymap=keymap_path({"XDG_CONFIG_HOME": str(config)})), size


async def loaded(app, pilot) -> None:
    for _ in range(100):
        await settle(app, pilot)
        if app.checkpoint is not None:
            break


def footer_keys(app) -> dict[str, str]:
    footer = app.screen.query(Footer).last()
    return {k.description: k.key_display for k in footer.query(FooterKey) if not k.has_class("-command-palette")}


def test_the_keymap_path_follows_xdg_config_home(monkeypatch, tmp_path):
    assert keymap_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "ckpt-tui" / "keymap.toml"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert keymap_path({}) == tmp_path / ".config" / "ckpt-tui" / "keymap.toml"
    assert keymap_path({"XDG_CONFIG_HOME": "relative/dir"}) == tmp_path / ".config" / "ckpt-tui" / "keymap.toml"


def test_parse_keymap_flattens_tables_and_says_what_is_wrong():
    known = set(bindings())
    keymap, problems = parse_keymap('"app.quit" = "ctrl+q"\n[files]\nsort = ["s", "f6"]\n', known)
    assert keymap == {"app.quit": "ctrl+q", "files.sort": "s,f6"} and problems == []
    keymap, problems = parse_keymap('"app.quit" = "ctrl+q"\n"app.nope" = "x"\n"main.search" = 3\n', known)
    assert keymap == {"app.quit": "ctrl+q"}
    assert any("app.nope" in p for p in problems) and any("main.search" in p for p in problems)
    keymap, problems = parse_keymap('"app.quit = ', known)
    assert keymap == {} and problems and "TOML" in problems[0]


async def test_a_remapped_key_works_and_shows_in_the_footer_and_the_help(tmp_path):
    app, size = await start(tmp_path, '"main.search" = "f3"\n"files.sort" = "S"\n"app.secrets" = "ctrl+r"\n')
    async with app.run_test(size=size, notifications=True) as pilot:
        await loaded(app, pilot)
        assert footer_keys(app)["Search"] == "f3"
        await pilot.press("s")  # the default key no longer searches
        await pilot.pause()
        assert not isinstance(app.screen, SearchScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        here = str(app.screen.query_one("#help-active").render())
        other = str(app.screen.query_one("#help-other").render())
        search_line = next(line for line in here.splitlines() if "Search all memory" in line)
        assert search_line.split()[0] == "f3"
        files = other[other.index("Files tree"):]
        sort_line = next(line for line in files.splitlines() if "Sort by name or by size" in line)
        assert sort_line.split()[0] == "S"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)


@pytest.mark.parametrize("text", ['"app.quit = ', '"app.nope" = "x"\n', '"main.search" = 3\n', "\xff\xfe"])
async def test_a_bad_keymap_is_a_notification_never_a_crash(tmp_path, text):
    app, size = await start(tmp_path, text)
    async with app.run_test(size=size, notifications=True) as pilot:
        await loaded(app, pilot)
        assert app.checkpoint is not None
        told = [n for n in app._notifications if "Keymap" in n.title]
        assert told and told[0].severity == "error"
        await pilot.press("s")  # the defaults still work
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)


def test_readme_lists_every_binding_id():
    """The README's table of binding ids is the one the real bindings give (regenerate it with
    ``python -m ckpt_tui.ui.keymap``)."""
    text = README.read_text("utf-8")
    assert markdown_table() in text
    ids = bindings()
    assert {"app.quit", "app.open", "main.search", "files.sort", "table.sort", "fileview.toggle_hex"} <= set(ids)


# -- the footer --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["1", "2", "3", "4", "5", "6", "7", "8", "9"])
async def test_the_footer_fits_120_columns(tmp_path, key):
    app, size = await start(tmp_path, None, size=(120, 30))
    async with app.run_test(size=size) as pilot:
        await loaded(app, pilot)
        await pilot.press(key)
        await pilot.pause()
        footer = app.screen.query(Footer).last()
        keys = list(footer.query(FooterKey))
        palette = next(k for k in keys if k.has_class("-command-palette"))
        shown = [k for k in keys if k is not palette]
        assert shown and all(k.region.right <= palette.region.x for k in shown), [
            (k.description, k.region) for k in shown]


async def test_a_bottom_prompt_has_a_whole_footer(tmp_path):
    app, size = await start(tmp_path, None, size=(120, 30))
    async with app.run_test(size=size) as pilot:
        await loaded(app, pilot)
        await pilot.press("2", "slash")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        bottom = app.screen._compositor.render_strips()[-1]
        text = "".join(segment.text for segment in bottom)
        assert text.startswith("esc Cancel")  # the prompt's own keys, the first letter there
        error = app.screen.query_one("#prompt-error")
        assert not error.display  # no empty line over the footer
