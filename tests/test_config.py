from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

from asurso_sync.config import ConfigError, example_config_text, load_config
from asurso_sync.secrets import SecretError, resolve_password
from tests.conftest import edit_config


def test_example_config_is_valid_and_documented(config_file: Path) -> None:
    cfg = load_config(config_file)
    assert cfg.school.timezone == "Europe/Samara"
    assert cfg.asurso.base_url == "https://asurso.ru"
    assert cfg.asurso.password_env == "ASURSO_PASSWORD"
    assert cfg.cache.path == config_file.parent / "cache.db"  # relative to the config file
    text = config_file.read_text(encoding="utf-8")
    # every key of every section is explained in the example
    for section in ("school", "asurso", "sync", "cache", "rules", "mail", "schedule"):
        assert f"[{section}]" in text
    for key in (
        "scid",
        "timezone",
        "work_program_approved",
        "password_command",
        "ca_bundle",
        "verify_tls",
        "concurrency",
        "min_interval",
        "timeout",
        "lookback_days",
        "select",
        "ignore",
        "backend",
        "security",
        "from_addr",
        "snapshot",
        "nightly",
        "weekly",
    ):
        assert key in text, key


def test_unknown_key_names_file_section_and_key(config_file: Path) -> None:
    edit_config(config_file, "concurrency = 2", "concurency = 2")
    with pytest.raises(ConfigError) as exc:
        load_config(config_file)
    msg = str(exc.value)
    assert str(config_file) in msg
    assert "[sync] concurency" in msg
    assert "неизвестный ключ" in msg


def test_plain_password_is_rejected_with_advice(config_file: Path) -> None:
    edit_config(config_file, 'password_env = "ASURSO_PASSWORD"', 'password = "Сота-2026"')
    with pytest.raises(ConfigError) as exc:
        load_config(config_file)
    msg = str(exc.value)
    assert "[asurso] password" in msg
    assert "password_env" in msg and "password_command" in msg
    assert "Сота-2026" not in msg  # the secret is never echoed


def test_plain_password_in_mail_section_is_rejected(config_file: Path) -> None:
    edit_config(config_file, 'backend = "file"', 'backend = "smtp"\npassword = "x"')
    with pytest.raises(ConfigError, match=r"\[mail\] password"):
        load_config(config_file)


@pytest.mark.parametrize(
    "url",
    [
        "asurso.ru",
        "ftp://asurso.ru",
        "https://asurso.ru/login",
        "https://",
        "https://asurso.ru:99999",
        "https://a.ru/?x=1",
    ],
)
def test_bad_url(config_file: Path, url: str) -> None:
    edit_config(config_file, 'base_url = "https://asurso.ru"', f'base_url = "{url}"')
    with pytest.raises(ConfigError, match=r"\[asurso\] base_url"):
        load_config(config_file)


def test_good_urls_are_normalised(config_file: Path) -> None:
    edit_config(config_file, 'base_url = "https://asurso.ru"', 'base_url = "http://127.0.0.1:8765/"')
    assert load_config(config_file).asurso.base_url == "http://127.0.0.1:8765"


def test_the_cabinets_address(config_file: Path) -> None:
    """``[web] base_url``: empty by default (no links in the summary), else an http(s) address without «/» at the
    end; anything else is refused naming the key."""
    assert load_config(config_file).web.base_url == ""
    head, tail = config_file.read_text(encoding="utf-8").rsplit('base_url = ""', 1)  # the last section's: [web]
    assert head.rsplit("\n[", 1)[1].startswith("web]")
    config_file.write_text(f'{head}base_url = "http://10.0.0.5:8080/"{tail}', "utf-8")
    assert load_config(config_file).web.base_url == "http://10.0.0.5:8080"
    config_file.write_text(f'{head}base_url = "кабинет"{tail}', "utf-8")
    with pytest.raises(ConfigError, match=r"\[web\] base_url"):
        load_config(config_file)


def test_env_overrides_win_and_are_typed(config_file: Path) -> None:
    env = {
        "ASURSO_SYNC_ASURSO__BASE_URL": "http://127.0.0.1:9000",
        "ASURSO_SYNC_SYNC__CONCURRENCY": "4",
        "ASURSO_SYNC_ASURSO__VERIFY_TLS": "false",
        "ASURSO_SYNC_SCHOOL__WORK_PROGRAM_APPROVED": "2026-09-05",
        "ASURSO_SYNC_ASURSO__PASSWORD_COMMAND": '["echo", "x"]',
        "ASURSO_SYNC_ASURSO__PASSWORD_ENV": "",
        "ASURSO_SYNC_CONFIG": "ignored-here",
    }
    # an empty password_env from the environment would be invalid; drop it to test the command path
    env.pop("ASURSO_SYNC_ASURSO__PASSWORD_ENV")
    edit_config(config_file, 'password_env = "ASURSO_PASSWORD"', "")
    cfg = load_config(config_file, environ=env)
    assert cfg.asurso.base_url == "http://127.0.0.1:9000"
    assert cfg.sync.concurrency == 4
    assert cfg.asurso.verify_tls is False
    assert cfg.school.work_program_approved == date(2026, 9, 5)
    assert cfg.asurso.password_command == ["echo", "x"]


def test_env_error_names_the_variable(config_file: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(config_file, environ={"ASURSO_SYNC_SYNC__CONCURRENCY": "много"})
    assert "ASURSO_SYNC_SYNC__CONCURRENCY" in str(exc.value)
    with pytest.raises(ConfigError, match="ASURSO_SYNC_NOPE__X"):
        load_config(config_file, environ={"ASURSO_SYNC_NOPE__X": "1"})
    with pytest.raises(ConfigError, match=r"\[sync\] colour"):
        load_config(config_file, environ={"ASURSO_SYNC_SYNC__COLOUR": "1"})


def test_range_and_literal_errors_in_russian(config_file: Path) -> None:
    edit_config(config_file, "concurrency = 2", "concurrency = 0")
    edit_config(config_file, 'security = "starttls"', 'security = "tls"')
    with pytest.raises(ConfigError) as exc:
        load_config(config_file)
    msg = str(exc.value)
    assert "Ошибки в конфигурации" in msg
    assert "[sync] concurrency: значение должно быть не меньше 1" in msg
    assert "[mail] security: допустимые значения" in msg


def test_both_password_sources_is_an_error(config_file: Path) -> None:
    edit_config(config_file, '# password_command = ["pass", "show", "asurso/zavuch"]', 'password_command = ["pass"]')
    with pytest.raises(ConfigError, match="только один источник пароля"):
        load_config(config_file)


def test_password_env_must_be_a_name_not_a_password(config_file: Path) -> None:
    edit_config(config_file, 'password_env = "ASURSO_PASSWORD"', 'password_env = "Сота-2026"')
    with pytest.raises(ConfigError, match="не имя переменной окружения"):
        load_config(config_file)


def test_rules_tables_by_code_or_name(config_file: Path) -> None:
    with config_file.open("a", encoding="utf-8") as fh:
        fh.write('\n[rules.TML001]\ndeadline = "15:00"\n\n[rules.lesson-topic-late]\ngrace_minutes = 5\n')
    cfg = load_config(config_file)
    assert cfg.rules.params("TML001") == {"deadline": "15:00"}
    assert cfg.rules.params("lesson-topic-late") == {"grace_minutes": 5}
    edit_config(config_file, "warnings_to_teachers = false", "warnings_to_teacher = false")
    with pytest.raises(ConfigError, match=r"\[rules\] warnings_to_teacher"):
        load_config(config_file)


def test_schedule_formats(config_file: Path) -> None:
    edit_config(config_file, 'weekly = "mon 07:00"', 'weekly = "понедельник 7:00"')
    with pytest.raises(ConfigError, match=r"\[schedule\] weekly"):
        load_config(config_file)


def test_bad_timezone(config_file: Path) -> None:
    edit_config(config_file, 'timezone = "Europe/Samara"', 'timezone = "Samara"')
    with pytest.raises(ConfigError, match="часовой пояс"):
        load_config(config_file)


def test_missing_ca_bundle(config_file: Path) -> None:
    edit_config(config_file, '# ca_bundle = "russian_trusted_root_ca.pem"', 'ca_bundle = "nope.pem"')
    with pytest.raises(ConfigError, match=r"\[asurso\] ca_bundle"):
        load_config(config_file)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="asurso-sync init"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[sync\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="TOML"):
        load_config(bad)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Сота"'.encode("cp1251"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(latin)


def test_password_from_env_and_command() -> None:
    assert resolve_password(section="asurso", password_env="P", password_command=None, environ={"P": "Сота-2026"}) == (
        "Сота-2026"
    )
    cmd = [sys.executable, "-c", "print('Сота-2026')"]
    assert resolve_password(section="asurso", password_env=None, password_command=cmd) == "Сота-2026"


@pytest.mark.parametrize(
    ("env", "cmd", "needle"),
    [
        ("P", None, "переменная окружения P"),
        (None, ["/nonexistent/pass"], "не найдена"),
        (None, [sys.executable, "-c", "import sys; sys.exit(3)"], "с кодом 3"),
        (None, [sys.executable, "-c", "pass"], "ничего не напечатала"),
        (None, None, "Не задан источник пароля"),
    ],
)
def test_password_errors(env: str | None, cmd: list[str] | None, needle: str) -> None:
    with pytest.raises(SecretError, match=needle):
        resolve_password(section="asurso", password_env=env, password_command=cmd, environ={})


def test_toml_syntax_errors_are_explained_in_russian_with_the_line(tmp_path: Path) -> None:
    """Issue #19 (8): a TOML syntax error names the line, says what is wrong in Russian and shows the line."""
    path = tmp_path / "config.toml"
    cases = {
        '[school]\nname "Сота"\n': ("строка 2", "после ключа ожидается «=»", 'name "Сота"'),
        "[school]\nname = Сота\n": ("строка 2", "строки пишутся в кавычках", "name = Сота"),
        '[rules]\nselect = ["TML"\n': ("в конце файла", "не закрыт скобкой «]»", None),
    }
    for text, (where, what, line) in cases.items():
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_config(path, environ={})
        message = str(err.value)
        assert where in message and what in message and "Expected" not in message and "Invalid" not in message
        if line:
            assert line in message


@pytest.mark.parametrize("value", ['""', '"."', '"папка/"'])
def test_a_cache_path_that_is_a_folder_is_refused(tmp_path: Path, value: str) -> None:
    """Issue #19 (5): ``[cache] path`` must name a file; a folder (or nothing) would be chmodded to 0600."""
    (tmp_path / "папка").mkdir()
    path = tmp_path / "config.toml"
    path.write_text(example_config_text().replace('path = "cache.db"', f"path = {value}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[cache\] path: нужен путь к файлу кэша"):
        load_config(path, environ={"ASURSO_PASSWORD": "x"})
    assert (tmp_path / "папка").stat().st_mode & 0o777 != 0o600


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('[rules.DEN001]\nquarter = "x"', "[rules.DEN001] quarter (строка {line}): нужна таблица"),
        ('[rules.DEN001]\nquarter = { 1 = "три" }', "[rules.DEN001] quarter (строка {line}): нужна таблица «число"),
        ('[rules.DEN001]\nlate_joiners = "sometimes"', "допустимые значения: auto, pro_rata, skip"),
        ('[rules.TML001]\ndeadline = "25:00"', "[rules.TML001] deadline (строка {line}): нужно время ЧЧ:ММ"),
        (
            "[rules.lesson-topic-late]\ngrace = 5",
            "у правила TML001 нет параметра «grace»; есть: deadline, grace_minutes",
        ),
        ("[rules.TML006]\ndays = -1", "[rules.TML006] days (строка {line}): значение должно быть не меньше 0"),
        ('[rules.ATT001]\nallowed = ["УП", 5]', "элементы списка — строки в кавычках; не подходит: 5"),
    ],
)
def test_rule_parameters_are_typed_at_load(config_file: Path, table: str, needle: str) -> None:
    """The defect: `[rules.DEN001] quarter = "x"` passed `status` and `sync`, and `check` then exited 4."""
    text = config_file.read_text(encoding="utf-8")
    line = len(text.splitlines()) + 3
    config_file.write_text(text + "\n" + table + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(config_file)
    assert needle.format(line=line) in str(exc.value), str(exc.value)


def test_override_parameters_are_typed_too(config_file: Path) -> None:
    with config_file.open("a", encoding="utf-8") as fh:
        fh.write('\n[[rules.override]]\nrule = "DEN001"\ngrade = [5]\nparams = { quarter = { 1 = "a" } }\n')
    with pytest.raises(ConfigError, match=r"\[\[rules.override\]\] №1 params.quarter \(строка \d+\)"):
        load_config(config_file)


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("scid = 1", "scid = 99999999999999999999999", "[school] scid: значение должно быть не больше"),
        ("family_education = []", "family_education = [99999999999999999999999]", "вне допустимого диапазона"),
    ],
)
def test_ids_are_range_checked(config_file: Path, old: str, new: str, needle: str) -> None:
    edit_config(config_file, old, new)
    with pytest.raises(ConfigError) as exc:
        load_config(config_file)
    assert needle in str(exc.value)
