"""The architecture contracts in pyproject.toml ([tool.importlinter]), which .ci/run checks with lint-imports.

Each contract is shown to fail when broken: a skeleton of our packages, with a few imports in the
shape of the real ones, is checked under the repository's own configuration, once as it is (every
contract kept) and once with one offending import added (that contract broken, and only that one).
A skeleton rather than a copy of the repository, so that what breaks a contract is the one import
added here and nothing else. The last test checks the repository itself.
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
CONFIG = REPOSITORY / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
IMPORT_LINTER = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]
CONTRACT_NAMES = {contract["id"]: contract["name"] for contract in IMPORT_LINTER["contracts"]}
APPS_WITHOUT_CYCLES = [
    contract["ancestors"][0] for contract in IMPORT_LINTER["contracts"] if contract["type"] == "acyclic_siblings"
]

# The arrows every contract allows, in miniature: each app uses the layer below it, only wechat
# imports wechatpy, the demo and the benches use the sandbox, and the sandbox reads Django's settings.
ALLOWED_IMPORTS = {
    "config.settings": "",
    "wechat.clients": "import wechatpy\n\nimport config.settings\n",
    "catalog.models": "import wechat.clients\n",
    "customers.services": "import wechat.clients\n",
    "articles.services": "import wechat.clients\n",
    "orders.services": "import catalog.models\nimport customers.services\n",
    "demo.services": "import articles.services\nimport orders.services\nimport wechat_sandbox.server\n",
    "bench.login": "import orders.services\nimport wechat_sandbox.server\n",
    "wechat_sandbox.server": "from django.conf import settings\n\nfrom wechat_sandbox import state\n",
    "wechat_sandbox.state": "",
}


def cycle_in(app: str) -> dict[str, str]:
    return {f"{app}.first": f"from {app} import second\n", f"{app}.second": f"from {app} import first\n"}


# (contract id, the modules to add, a line lint-imports prints about the break)
BREAKS = [
    ("layers", {"config.urls": "import orders.services\n"}, "config.urls -> orders.services"),
    ("layers", {"catalog.selectors": "import customers.services\n"}, "catalog.selectors -> customers.services"),
    ("layers", {"demo.data": "import bench.login\n"}, "demo.data -> bench.login"),
    (
        "sandbox-independent",
        {"wechat_sandbox.client": "from wechat import clients\n"},
        "wechat_sandbox.client -> wechat.clients",
    ),
    (
        "sandbox-not-in-product",
        {"orders.prepay": "from wechat_sandbox import server\n"},
        "orders.prepay -> wechat_sandbox.server",
    ),
    (
        "wechatpy-only-in-wechat",
        {"articles.sending": "from wechatpy import WeChatClient\n"},
        "articles.sending -> wechatpy",
    ),
    *[(f"acyclic-{app}", cycle_in(app), f"No cycles are allowed in {app}.") for app in APPS_WITHOUT_CYCLES],
]


def skeleton(root: Path, modules: dict[str, str]) -> None:
    """Our root packages, empty but for `modules` (dotted name: source), with the repository's configuration."""
    for package in IMPORT_LINTER["root_packages"]:
        (root / package).mkdir()
        (root / package / "__init__.py").touch()
    for name, source in modules.items():
        path = root.joinpath(*name.split("."))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".py").write_text(source)
    (root / "pyproject.toml").write_text(CONFIG.read_text())


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    # Wide columns keep each contract's name on one line of the report; no cache, so no file is left behind.
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "1000"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_allowed_arrows_keep_every_contract(tmp_path):
    skeleton(tmp_path, ALLOWED_IMPORTS)

    result = lint_imports(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACT_NAMES)} kept, 0 broken." in result.stdout


def test_every_contract_is_shown_broken():
    assert {contract_id for contract_id, _, _ in BREAKS} == set(CONTRACT_NAMES)


@pytest.mark.parametrize(
    ("contract_id", "offending_modules", "reported"), BREAKS, ids=[reported for _, _, reported in BREAKS]
)
def test_one_offending_import_breaks_its_contract(contract_id, offending_modules, reported, tmp_path):
    skeleton(tmp_path, ALLOWED_IMPORTS | offending_modules)

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{CONTRACT_NAMES[contract_id]} BROKEN" in result.stdout
    assert f"Contracts: {len(CONTRACT_NAMES) - 1} kept, 1 broken." in result.stdout
    assert reported in result.stdout


def test_the_repository_itself_keeps_every_contract():
    """The real tree, as .ci/run checks it."""
    result = lint_imports(REPOSITORY)

    assert result.returncode == 0, result.stdout + result.stderr
