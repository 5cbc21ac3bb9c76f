"""Settings: one loader, errors that name the variable, .env.example loads through it."""

from pathlib import Path

import pytest

from bridge.config import Settings, load_settings, settings_schema
from bridge.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def load(**env):
    return load_settings(env, dotenv_path=None)


def test_defaults_need_nothing():
    settings = load()
    assert settings.trackops_rate_limit == 1.0
    assert settings.poll_interval == 60.0
    assert settings.feed_past_days == 90
    assert settings.database_url.startswith("sqlite:///")


def test_date_order_reaches_the_entry_rules():
    from bridge.submissions import entry_options

    assert entry_options(load(BRIDGE_DATE_ORDER="dmy")).date_order == "DMY"
    assert entry_options(load()).date_order is None


def test_subdomain_builds_the_https_base_url():
    assert load(TRACKOPS_SUBDOMAIN="acme").api_base_url == "https://acme.viewcases.com/api/v1"


def test_base_url_overrides_subdomain():
    settings = load(TRACKOPS_SUBDOMAIN="acme", TRACKOPS_BASE_URL="https://proxy.example/api/v1/")
    assert settings.api_base_url == "https://proxy.example/api/v1"


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("BRIDGE_POLL_INTERVAL", "-5", "BRIDGE_POLL_INTERVAL: expected seconds > 0, got '-5'"),
        ("TRACKOPS_RATE_LIMIT", "fast", "TRACKOPS_RATE_LIMIT: expected requests per second > 0"),
        ("BRIDGE_DEFAULT_TIMEZONE", "Mars/Olympus", "expected an IANA time zone name"),
        ("BRIDGE_FEED_PAST_DAYS", "1.5", "BRIDGE_FEED_PAST_DAYS: expected a whole number"),
        ("BRIDGE_FEED_PAST_DAYS", "٣", "BRIDGE_FEED_PAST_DAYS: expected a whole number"),
        ("BRIDGE_POLL_INTERVAL", "inf", "BRIDGE_POLL_INTERVAL: expected seconds > 0"),
        ("BRIDGE_DEFAULT_PRIVACY", "secret", "expected one of full, limited, busy"),
        (
            "TRACKOPS_USERNAME",
            "sam/token",
            "TRACKOPS_USERNAME: expected the employee's Trackops login without '/token'",
        ),
        ("BRIDGE_DATE_ORDER", "YMD", "BRIDGE_DATE_ORDER: expected DMY or MDY"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: expected a sqlite:/// or postgresql://"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_expects(env, value, expected):
    with pytest.raises(ConfigError) as caught:
        load(**{env: value})
    assert expected in str(caught.value)


def test_plain_http_is_refused_except_for_loopback():
    with pytest.raises(ConfigError, match="TRACKOPS_BASE_URL: expected an https://"):
        load(TRACKOPS_BASE_URL="http://acme.viewcases.com/api/v1")
    for host in ("127.0.0.1:8001", "localhost:8001", "[::1]:8001"):
        assert load(TRACKOPS_BASE_URL=f"http://{host}/api/v1").api_base_url


def test_a_base_url_carrying_credentials_is_refused_without_echoing_them():
    with pytest.raises(ConfigError) as caught:
        load(TRACKOPS_BASE_URL="https://sam:s3cret-tok@proxy.example/api/v1")
    assert "TRACKOPS_API_TOKEN" in str(caught.value)
    assert "s3cret-tok" not in str(caught.value)


def test_secrets_never_appear_in_errors_or_repr():
    with pytest.raises(ConfigError) as caught:
        load(DATABASE_URL="mysql://user:hunter22@db/x")
    assert "hunter22" not in str(caught.value)
    settings = load(TRACKOPS_API_TOKEN="tok-123456", BRIDGE_ADMIN_PASSWORD="pw-abcdefgh")
    assert "tok-123456" not in repr(settings)
    assert "pw-abcdefgh" not in repr(settings)


def test_missing_credentials_name_the_variable():
    with pytest.raises(ConfigError, match="TRACKOPS_SUBDOMAIN: not set"):
        load().require_trackops()
    with pytest.raises(ConfigError, match="TRACKOPS_API_TOKEN: not set"):
        load(TRACKOPS_SUBDOMAIN="acme", TRACKOPS_USERNAME="sam").require_trackops()


def test_environment_wins_over_dotenv(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("BRIDGE_POLL_INTERVAL=30\nTRACKOPS_SUBDOMAIN='acme'\n")
    monkeypatch.setenv("BRIDGE_POLL_INTERVAL", "45")
    settings = load_settings(dotenv_path=dotenv)
    assert settings.poll_interval == 45
    assert settings.trackops_subdomain == "acme"


def test_env_example_loads_through_the_real_loader_and_lists_every_setting():
    example = ROOT / ".env.example"
    settings = load_settings({}, dotenv_path=example)
    assert isinstance(settings, Settings)
    text = example.read_text()
    for row in settings_schema():
        assert row["env"] in text, f"{row['env']} missing from .env.example"


def test_readme_configuration_table_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    for row in settings_schema():
        assert f"`{row['env']}`" in readme, f"{row['env']} missing from the README table"
