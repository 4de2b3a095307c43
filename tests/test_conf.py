from __future__ import annotations

from pathlib import Path

import pytest

from newsdesk import conf

REPO = Path(__file__).resolve().parents[1]


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("<!-- settings-table:start -->") + len("<!-- settings-table:start -->\n")
    end = readme.index("<!-- settings-table:end -->")
    assert readme[start:end].strip() == conf.markdown_table().strip(), (
        "README settings table is stale: regenerate it from newsdesk.conf.markdown_table()"
    )


def test_defaults_and_parsing(tmp_path: Path) -> None:
    c = conf.load({})
    assert c.host_concurrency == 2 and c.host_delay == 1.0 and c.max_body == 10 * 1024 * 1024
    assert c.allow_private_networks is False
    assert c.data_dir == (Path.cwd() / "newsdesk-data").resolve()
    c = conf.load({"NEWSDESK_HOST_DELAY": "0", "NEWSDESK_ALLOW_PRIVATE_NETWORKS": "yes",
                   "NEWSDESK_DATA_DIR": str(tmp_path)})
    assert c.host_delay == 0.0 and c.allow_private_networks is True and c.data_dir == tmp_path
    # The CLI flag wins over the environment.
    assert conf.load({"NEWSDESK_DATA_DIR": "/nope"}, data_dir=str(tmp_path)).data_dir == tmp_path
    assert "newsdesk/" in c.effective_user_agent and c.contact_url in c.effective_user_agent


@pytest.mark.parametrize(("env", "value"), [
    ("NEWSDESK_HOST_CONCURRENCY", "0"),
    ("NEWSDESK_HOST_DELAY", "-1"),
    ("NEWSDESK_ALLOW_PRIVATE_NETWORKS", "maybe"),
    ("NEWSDESK_MAX_BODY", "ten"),
])
def test_bad_values_name_the_variable(env: str, value: str) -> None:
    with pytest.raises(conf.SettingError, match=env):
        conf.load({env: value})
