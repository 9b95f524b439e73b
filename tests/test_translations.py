"""The Chinese catalogs cover every string staff and shoppers read (issue 16: checked in CI).

Two catalogs: django.po (Python and templates) and djangojs.po (our static JS and the rich-text
editor's words, config/rich_text_editor_strings.js, served by the admin's jsi18n). makemessages runs on
a copy of the code (the repository's catalogs are never touched), exactly as `make messages` does; any
entry it leaves untranslated or fuzzy fails, naming the entry. Each committed .mo must be its committed
.po compiled, or Django would show what the .po no longer says.
"""

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.real_services import require

REPO = Path(__file__).resolve().parent.parent
CATALOGS = {
    "django": Path("locale/zh_Hans/LC_MESSAGES/django.po"),
    "djangojs": Path("locale/zh_Hans/LC_MESSAGES/djangojs.po"),
}
# makemessages' options per catalog, as in the Makefile's `messages` target (djangojs reads .js files).
DOMAIN_OPTIONS = {"django": ["--extension=html,txt,py"], "djangojs": ["--domain=djangojs"]}


def _make_messages_ignores() -> list[str]:
    """The --ignore options of `make messages`, read from the Makefile so the two never drift apart."""
    makefile = (REPO / "Makefile").read_text()
    block = re.search(r"^MESSAGES_IGNORE := (.*?)(?<!\\)\n", makefile, re.S | re.M).group(1)
    return block.replace("\\\n", " ").split()


@pytest.fixture(scope="module")
def code_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("translations") / "repo"
    skipped = {".venv", ".git", "var", "media", "staticfiles", "node_modules", "__pycache__"}
    shutil.copytree(REPO, copy, ignore=lambda _dir, names: [name for name in names if name in skipped])
    return copy


def _gettext_tool(name: str) -> str:
    """GNU gettext's tool: skipped without it on a laptop, a failure under CI=true (.ci/run installs it)."""
    path = shutil.which(name)
    require(path is not None, f"GNU gettext's {name} (apt-get install gettext)")
    return path


@pytest.fixture(scope="module", params=sorted(CATALOGS))
def domain(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def fresh_catalog(code_copy, domain) -> Path:
    """The copy's catalog after makemessages has added every string the code wraps today."""
    _gettext_tool("xgettext")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale=zh_Hans", *DOMAIN_OPTIONS[domain],
         "--add-location=file", "--no-obsolete", *_make_messages_ignores()],
        cwd=code_copy, check=True, capture_output=True,
        env={"DJANGO_DEBUG": "true", "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )  # fmt: skip
    return code_copy / CATALOGS[domain]


def _entries(msgattrib_option: str, catalog: Path) -> list[str]:
    listed = subprocess.run(
        [_gettext_tool("msgattrib"), msgattrib_option, "--no-wrap", "--no-location", str(catalog)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [msgid for msgid in re.findall(r'^msgid "(.*)"$', listed, re.M) if msgid]


def test_makemessages_leaves_no_string_untranslated(fresh_catalog):
    untranslated = _entries("--untranslated", fresh_catalog)
    assert not untranslated, f"{len(untranslated)} untranslated; run `make messages` and translate: {untranslated}"


def test_makemessages_leaves_no_string_fuzzy(fresh_catalog):
    fuzzy = _entries("--only-fuzzy", fresh_catalog)
    assert not fuzzy, f"{len(fuzzy)} fuzzy (a guess by msgmerge); check and unmark them: {fuzzy}"


def test_the_committed_catalog_is_current(fresh_catalog, domain):
    """`make messages` was run after the last change of wrapped strings: nothing to add or drop."""
    committed = set(_entries("--no-fuzzy", REPO / CATALOGS[domain]))
    fresh = set(_entries("--no-fuzzy", fresh_catalog)) | set(_entries("--only-fuzzy", fresh_catalog))
    assert fresh == committed, f"missing: {sorted(fresh - committed)}; no longer used: {sorted(committed - fresh)}"


@pytest.mark.parametrize("catalog", CATALOGS.values(), ids=CATALOGS.keys())
def test_the_compiled_catalog_is_the_catalog(tmp_path, catalog):
    compiled_now = tmp_path / catalog.with_suffix(".mo").name
    subprocess.run([_gettext_tool("msgfmt"), "--check", "-o", str(compiled_now), str(REPO / catalog)], check=True)
    with (REPO / catalog.with_suffix(".mo")).open("rb") as committed, compiled_now.open("rb") as fresh:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(fresh)._catalog, (
            f"{catalog.with_suffix('.mo')} is stale: run `make messages` and commit it"
        )


@pytest.mark.parametrize("catalog", CATALOGS.values(), ids=CATALOGS.keys())
def test_translations_keep_their_placeholders(catalog):
    """msgfmt --check: a translation with a missing or extra %(name)s or {name} would crash or mislead."""
    subprocess.run([_gettext_tool("msgfmt"), "--check", "-o", "/dev/null", str(REPO / catalog)], check=True)


def test_the_editor_msgids_are_every_word_the_editor_bundle_translates():
    """Each string django-prose-editor's bundle passes to gettext has a msgid in config/rich_text_editor_strings.js,
    so an upgrade that adds a dialog word fails here instead of showing English to Chinese staff."""
    import django_prose_editor

    bundle = (Path(django_prose_editor.__file__).parent / "static/django_prose_editor/editor.js").read_text()
    # The bundle's minifier names its gettext (`pX=window.gettext||(e=>e)`); find that name first.
    gettext_name = re.search(r"(\w+)=window\.gettext\|\|", bundle).group(1)
    wanted = set(re.findall(rf'\b{re.escape(gettext_name)}\("([^"]*)"\)', bundle))
    ours = set(re.findall(r'^gettext\("([^"]*)"\)', (REPO / "config/rich_text_editor_strings.js").read_text(), re.M))
    assert len(wanted) > 20
    assert wanted <= ours, f"add to config/rich_text_editor_strings.js: {sorted(wanted - ours)}"
