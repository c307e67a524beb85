"""Configuration: a TOML file validated by pydantic, overridable by environment variables.

Precedence: defaults < file < ``ASURSO_SYNC_<SECTION>__<KEY>`` environment variables.
Unknown keys are errors; a plain-text ``password`` is rejected. Every problem is reported
as one Russian message naming the file (or variable), the key and what to do.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from asurso_sync import exitcodes
from asurso_sync.errors import AppError
from cache import owner_name

ENV_PREFIX = "ASURSO_SYNC_"
CONFIG_ENV = "ASURSO_SYNC_CONFIG"
DEFAULT_CONFIG = Path("config.toml")


class ConfigError(AppError):
    """An invalid configuration. ``str()`` is the Russian message for the user."""

    exit_code = exitcodes.CONFIG


class ConfigMissing(ConfigError):
    """There is no configuration file at the path (a command that can do without one may go on with defaults)."""


_NO_PLAIN_CREDENTIAL_ADVICE = (
    'пароль нельзя хранить в файле открытым текстом. Укажите password_env = "ИМЯ_ПЕРЕМЕННОЙ" '
    '(пароль в переменной окружения) или password_command = ["команда", "аргумент"] '
    '(команда, которая печатает пароль, например ["pass", "show", "asurso"])'
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_plain_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(f"[password] {_NO_PLAIN_CREDENTIAL_ADVICE}")
        return data


def _check_command(v: list[str] | None) -> list[str] | None:
    if v is not None and (not v or not all(isinstance(x, str) and x for x in v)):
        raise ValueError("ожидается непустой список строк: программа и её аргументы")
    return v


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_env_name(v: str | None) -> str | None:
    if v is not None and not _ENV_NAME.match(v):
        raise ValueError(f"«{v}» — не имя переменной окружения; укажите имя, например ASURSO_PASSWORD, а не сам пароль")
    return v


CommandList = Annotated[list[str] | None, AfterValidator(_check_command)]
EnvName = Annotated[str | None, AfterValidator(_check_env_name)]


# ids (school, person) are stored in the cache as SQLite INTEGERs: a larger number is a typo, refused at load
# (it would fail later, deep in a sync or a check)
MAX_SERVER_ID = 2**63 - 1


def _check_ids(v: list[int | str]) -> list[int | str]:
    for x in v:
        if isinstance(x, int) and not 0 < x <= MAX_SERVER_ID:
            raise ValueError(f"номер {x} вне допустимого диапазона 1…{MAX_SERVER_ID}")
    return v


IdList = Annotated[list[int | str], AfterValidator(_check_ids)]


class SchoolConfig(_Section):
    name: str = "Школа"
    scid: int | None = Field(default=None, gt=0, le=MAX_SERVER_ID)
    timezone: str = "Europe/Samara"
    work_program_approved: date | None = None
    regulation: str = "Положение об электронном журнале"
    # days the school does not work although the server's calendar does not say so (R7): no snapshot, no remark
    days_off: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"неизвестный часовой пояс «{v}»; для Самары — Europe/Samara") from exc
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class AsursoConfig(_Section):
    base_url: str = "https://asurso.ru"
    login: str | None = None
    password_env: EnvName = None
    password_command: CommandList = None
    session_file: Path | None = None
    role_group: str | None = None
    ca_bundle: Path | None = None
    verify_tls: bool = True
    # how runs sign in: auto (the stored Госуслуги login, then the password where the server allows it, then the
    # session file), password, esia (the stored Госуслуги login only), session (the session file only)
    auth: Literal["auto", "password", "esia", "session"] = "auto"
    token_file: Path | None = None  # the stored Госуслуги login; default: beside the cache
    esia_url: str = "https://esia.gosuslugi.ru"  # the Госуслуги portal; another address only for tests and the demo

    @field_validator("esia_url")
    @classmethod
    def _esia_url(cls, v: str) -> str:
        parts = urlsplit(v)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment:
            raise ValueError(f"некорректный адрес «{v}»: ожидается https://esia.gosuslugi.ru")
        local = host in ("localhost", "127.0.0.1", "::1") or host.endswith(".invalid")
        if parts.scheme != "https" and not local:
            raise ValueError(f"адрес Госуслуг «{v}» должен начинаться с https:// — по нему уходит пароль")
        return v.rstrip("/")

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"некорректный адрес «{v}»: ожидается адрес сервера вида https://asurso.ru")
        if parts.path not in ("", "/"):
            raise ValueError(f"адрес «{v}» должен быть без пути: только https://имя-сервера[:порт]")
        try:
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError as exc:
            raise ValueError(f"некорректный порт в адресе «{v}»") from exc
        return v.rstrip("/")

    @model_validator(mode="after")
    def _one_password_source(self) -> AsursoConfig:
        if self.password_env and self.password_command:
            raise ValueError("укажите только один источник пароля: password_env или password_command")
        if self.auth == "session" and self.session_file is None:
            raise ValueError('auth = "session" требует файла сессии: укажите session_file')
        if self.auth == "password" and not (self.password_env or self.password_command):
            raise ValueError('auth = "password" требует источника пароля: укажите password_env или password_command')
        return self


class SyncConfig(_Section):
    concurrency: int = Field(default=2, ge=1, le=8)
    min_interval: float = Field(default=0.3, ge=0, le=60)
    timeout: float = Field(default=30.0, gt=0, le=600)
    lookback_days: int = Field(default=14, ge=0, le=366)
    access_log: Literal["auto", "hub", "asp", "off"] = "auto"


class CacheConfig(_Section):
    path: Path = Path("cache.db")
    # nightly backups kept (one per nightly sync, in backup_dir); 0: no backups
    backup_keep: int = Field(default=7, ge=0, le=366)
    backup_dir: Path | None = None  # default: the folder «backups» beside the cache


class RuleOverrideConfig(_Section):
    """``[[rules.override]]``: a rule's parameters (or ``ignore``) for some grades, classes, subjects, teachers."""

    rule: str
    grade: list[int] = Field(default_factory=list)
    classes: list[str] = Field(default_factory=list)
    subjects: list[str] = Field(default_factory=list)
    teachers: IdList = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    ignore: bool = False

    @model_validator(mode="after")
    def _scoped(self) -> RuleOverrideConfig:
        if not (self.grade or self.classes or self.subjects or self.teachers):
            raise ValueError("укажите, к чему относится исключение: grade, classes, subjects или teachers")
        if not self.ignore and not self.params:
            raise ValueError("укажите params (параметры правила) или ignore = true")
        return self


_RULE_KEY = re.compile(r"^[A-Z]{3}\d{3}$|^[a-z][a-z0-9]*(-[a-z0-9]+)+$")


class RulesConfig(_Section):
    """``select``/``ignore`` plus one table per rule (by code or kebab-case name) with its parameters."""

    model_config = ConfigDict(extra="allow", validate_default=True)
    select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    warnings_to_teachers: bool = False
    # the first day «check» looks at by default; none: the school year's start once the year is loaded completely
    check_from: date | None = None
    # rules that are not the Положение's (the school's own, federal recommendations) whose findings go to teachers
    to_teachers: list[str] = Field(default_factory=list)
    family_education: IdList = Field(default_factory=list)
    part_time_education: IdList = Field(default_factory=list)  # очно-заочная форма (R15)
    freshness_hours: float = Field(default=26, gt=0, le=24 * 30)
    # shadow start: lists are built and shown, but a rule's findings reach teachers only after the deputy has
    # released it in the cabinet (README «Кабинет завуча»); «init» writes true for a new installation
    shadow: bool = False
    override: list[RuleOverrideConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rule_tables(self) -> RulesConfig:
        for key, value in (self.model_extra or {}).items():
            if not _RULE_KEY.match(key):
                raise ValueError(
                    f"[{key}] неизвестный ключ: в [rules] допустимы select, ignore, warnings_to_teachers, to_teachers, "
                    "check_from, family_education, part_time_education, freshness_hours, override и таблицы правил "
                    "по коду (например [rules.TML001]) или имени"
                )
            if not isinstance(value, dict):
                raise ValueError(f"[{key}] параметры правила задаются таблицей [rules.{key}]")
        return self

    def params(self, code: str) -> dict[str, Any]:
        extra = self.model_extra or {}
        value = extra.get(code, {})
        return dict(value) if isinstance(value, dict) else {}


class MailConfig(_Section):
    backend: Literal["smtp", "file", "console", "memory"] = "file"
    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    password_env: EnvName = None
    password_command: CommandList = None
    from_addr: str = "asurso-sync@localhost"
    deputy_addr: str | None = None
    directory: Path | None = None
    outbox_dir: Path = Path("outbox")
    timeout: float = Field(default=30.0, gt=0, le=600)
    send_empty: bool = False
    contest: str = (
        "Если замечание ошибочно, ответьте на это письмо, указав его номер (в скобках после кода правила), или "
        "обратитесь к заместителю директора по УВР: замечание проверят и при необходимости снимут."
    )

    @field_validator("from_addr", "deputy_addr")
    @classmethod
    def _addr(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^[^@\s<>]+@[^@\s<>]+$", v):
            raise ValueError(f"«{v}» — не адрес электронной почты")
        return v


class TeacherPageConfig(_Section):
    """A teacher's personal page, opened from the link in her letter (README «Страница учителя»)."""

    base_url: str = ""  # the page's address as teachers' phones reach it (the school's TLS proxy); "" — no link
    max_days: int = Field(default=14, ge=1, le=60)  # a link never lives longer than this …
    keep_previous_days: int = Field(default=0, ge=0, le=30)  # … and ends this long after her next letter's link

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        return _base_url(v)


class WebConfig(_Section):
    """Кабинет завуча as the deputy reaches it (README «Кабинет завуча»)."""

    # the cabinet's address in the deputy's browser (e.g. the school's network address of «asurso-sync web»);
    # the deputy's summary links each line about a finding to its page there; "" — no links
    base_url: str = ""

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        return _base_url(v)


def _base_url(v: str) -> str:
    """A page's address without a trailing «/» (or «» — none)."""
    if not v:
        return v
    parts = urlsplit(v)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"«{v}»: ожидается адрес вида https://ezh.school.ru (без ? и #)")
    return v.rstrip("/")


_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_WEEKLY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d$")


class ScheduleConfig(_Section):
    snapshot: str = "16:05"
    nightly: str = "01:00"
    weekly: str = "mon 07:00"
    daily_check: str = "18:00"
    misfire_hours: float = Field(default=6.0, gt=0, le=72)
    log_file: Path | None = Path("asurso-sync.log")

    @field_validator("snapshot", "nightly", "daily_check")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _TIME.match(v):
            raise ValueError(f"«{v}»: время задаётся как ЧЧ:ММ, например 16:05")
        return v

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, v: str) -> str:
        if not _WEEKLY.match(v):
            raise ValueError(f'«{v}»: ожидается день недели и время, например "mon 07:00"')
        return v


class RetentionConfig(_Section):
    keep_days: int | None = Field(default=None, ge=30, le=3650)
    auto: bool = False


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    school: SchoolConfig = Field(default_factory=SchoolConfig)
    asurso: AsursoConfig = Field(default_factory=AsursoConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    mail: MailConfig = Field(default_factory=MailConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    teacher_page: TeacherPageConfig = Field(default_factory=TeacherPageConfig)
    web: WebConfig = Field(default_factory=WebConfig)

    source: Annotated[Path | None, Field(exclude=True)] = None


SECTIONS = tuple(name for name in Config.model_fields if name != "source")


# --- error rendering -------------------------------------------------------------------------

_MESSAGES = {
    "missing": "обязательный ключ не задан",
    "extra_forbidden": "неизвестный ключ (опечатка?)",
    "int_parsing": "ожидается целое число",
    "int_type": "ожидается целое число",
    "int_from_float": "ожидается целое число",
    "float_parsing": "ожидается число",
    "float_type": "ожидается число",
    "bool_parsing": "ожидается true или false",
    "bool_type": "ожидается true или false",
    "string_type": "ожидается строка в кавычках",
    "list_type": 'ожидается список, например ["a", "b"]',
    "date_from_datetime_parsing": "ожидается дата ГГГГ-ММ-ДД",
    "date_parsing": "ожидается дата ГГГГ-ММ-ДД",
    "date_type": "ожидается дата ГГГГ-ММ-ДД",
    "model_type": "ожидается таблица [раздел]",
    "dict_type": "ожидается таблица [раздел]",
    "path_type": "ожидается путь к файлу",
}


def _describe(err: Mapping[str, Any]) -> tuple[str, str]:
    loc = [str(p) for p in err.get("loc", ())]
    typ = err.get("type", "")
    msg = str(err.get("msg", ""))
    if typ == "value_error":
        msg = msg.removeprefix("Value error, ")
        m = re.match(r"^\[([^\]]+)\] (.*)$", msg, re.S)
        if m:  # a model-level validator naming its own key
            loc, msg = [*loc, m.group(1)], m.group(2)
    elif typ in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        ctx = err.get("ctx", {})
        bound = next(iter(ctx.values()), "")
        word = {
            "greater_than_equal": "не меньше",
            "greater_than": "больше",
            "less_than_equal": "не больше",
            "less_than": "меньше",
        }[typ]
        msg = f"значение должно быть {word} {bound}"
    elif typ == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        msg = f"допустимые значения: {expected}"
    else:
        msg = _MESSAGES.get(typ, msg)
    if loc and loc[0] in SECTIONS and len(loc) > 1:
        key = f"[{loc[0]}] {'.'.join(loc[1:])}"
    elif loc:
        key = f"[{loc[0]}]" if loc[0] in SECTIONS else ".".join(loc)
    else:
        key = "(весь файл)"
    return key, msg


def _format_errors(where: str, exc: ValidationError, env_keys: Mapping[tuple[str, str], str]) -> str:
    lines = []
    for err in exc.errors():
        key, msg = _describe(err)
        loc = tuple(str(p) for p in err.get("loc", ()))[:2]
        origin = f" (из переменной {env_keys[loc]})" if loc in env_keys else ""  # type: ignore[index]
        value = ""
        if err.get("type") not in ("missing", "value_error") and "input" in err and not isinstance(err["input"], dict):
            value = f" (указано: {err['input']!r})"
        lines.append(f"  ключ {key}{origin}: {msg}{value}")
    head = f"Ошибка в конфигурации {where}:" if len(lines) == 1 else f"Ошибки в конфигурации {where}:"
    return head + "\n" + "\n".join(lines)


# --- loading ---------------------------------------------------------------------------------


def _env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str]]:
    data: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, str], str] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name[len(ENV_PREFIX) :]:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        section, key = section.lower(), key.lower()
        if section not in SECTIONS:
            raise ConfigError(
                f"Ошибка в переменной окружения {name}: нет раздела [{section}]; разделы: {', '.join(SECTIONS)}"
            )
        value: Any = raw
        if raw.strip().startswith("["):
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"Ошибка в переменной окружения {name}: список не разобран ({exc})") from exc
        data.setdefault(section, {})[key] = value
        origin[(section, key)] = name
    return data, origin


def load_config(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read, merge and validate the configuration. Raises :class:`ConfigError` with a Russian message."""
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    if not path.exists():
        raise ConfigMissing(
            f"Файл конфигурации не найден: {path}. Создайте его командой «asurso-sync init» "
            f"или укажите другой файл: --config ПУТЬ (или переменная {CONFIG_ENV})."
        )
    try:
        text = path.read_text(encoding="utf-8")
        data: dict[str, Any] = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Ошибка в конфигурации {path}: файл должен быть в кодировке UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Ошибка в конфигурации {path}: {toml_error_text(exc, text)}") from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path} — это папка, а нужен файл конфигурации: укажите --config ПАПКА/{DEFAULT_CONFIG}."
        ) from None
    except PermissionError:
        owner = owner_name(path)
        raise ConfigError(
            f"Нет прав на чтение файла конфигурации {path}: его владелец — пользователь «{owner}». Запустите "
            f"команду от него: sudo -u {owner} asurso-sync … (README, «Работа по расписанию»)."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Не удалось прочитать файл конфигурации {path}: {exc.strerror}") from exc

    env_data, env_origin = _env_overrides(environ)
    for section, values in env_data.items():
        current = data.get(section)
        if current is None:
            data[section] = dict(values)
        elif isinstance(current, dict):
            current.update(values)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(str(path), exc, env_origin)) from None

    _check_rule_params(config, text, str(path))
    base = path.resolve().parent
    config.source = path
    raw_cache = str(data.get("cache", {}).get("path", "cache.db")) if isinstance(data.get("cache"), dict) else ""
    config.cache.path = _resolve(base, config.cache.path)
    if not raw_cache.strip() or raw_cache.endswith(("/", "\\")) or config.cache.path.is_dir():
        raise ConfigError(
            f"Ошибка в конфигурации {path}:\n  ключ [cache] path: нужен путь к файлу кэша, а не к папке "
            f'(«{raw_cache}»); например path = "cache.db"'
        )
    if config.cache.backup_dir is not None:
        config.cache.backup_dir = _resolve(base, config.cache.backup_dir)
    config.mail.outbox_dir = _resolve(base, config.mail.outbox_dir)
    if config.schedule.log_file is not None:
        config.schedule.log_file = _resolve(base, config.schedule.log_file)
    if config.mail.directory is not None:
        config.mail.directory = _resolve(base, config.mail.directory)
    if config.asurso.session_file is not None:
        config.asurso.session_file = _resolve(base, config.asurso.session_file)
    if config.asurso.token_file is not None:
        config.asurso.token_file = _resolve(base, config.asurso.token_file)
    if config.asurso.ca_bundle is not None:
        config.asurso.ca_bundle = _resolve(base, config.asurso.ca_bundle)
        if not config.asurso.ca_bundle.is_file():
            raise ConfigError(
                f"Ошибка в конфигурации {path}:\n  ключ [asurso] ca_bundle: файл {config.asurso.ca_bundle} не найден"
            )
    return config


def _line_of(text: str, table: str, key: str, nth: int = 0) -> int | None:
    """The line of ``key`` in the ``nth`` table ``[table]`` (or ``[[table]]``) of a TOML text, for an error."""
    header = re.compile(r"^\s*\[\[?\s*" + re.escape(table).replace(r"\.", r"\s*\.\s*") + r"\s*\]\]?\s*(#.*)?$")
    seen, inside = -1, False
    for number, line in enumerate(text.splitlines(), 1):
        if header.match(line):
            seen += 1
            inside = seen == nth
        elif line.lstrip().startswith("["):
            inside = False
        elif inside and re.match(r"^\s*" + re.escape(key) + r"\s*=", line):
            return number
    return None


def _check_rule_params(config: Config, text: str, where: str) -> None:
    """Every rule table's and override's parameters against the rule's declared ones (name and type), at load:
    a wrong value is exit 2 naming the key and the line, not a failure in the middle of a check."""
    extra = config.rules.model_extra or {}
    if not extra and not config.rules.override:
        return
    from rules.catalogue import load_catalogue
    from rules.registry import param_problem

    catalogue = load_catalogue()
    by_name = {r.name: r for r in catalogue.values()}
    places: list[tuple[str, dict[str, Any], str, int]] = [
        (key, value, f"rules.{key}", 0) for key, value in extra.items() if isinstance(value, dict)
    ]
    places += [(o.rule, o.params, "rules.override", n) for n, o in enumerate(config.rules.override)]
    for key, params, table, nth in places:
        rule = catalogue.get(key) or by_name.get(key)
        if rule is None:
            continue  # an unknown rule is reported by check with the others (a preview list may name it)
        for name, value in params.items():
            if name not in rule.params:
                problem = (
                    f"у правила {rule.code} нет параметра «{name}»; есть: {', '.join(sorted(rule.params)) or 'никаких'}"
                )
            else:
                problem = param_problem(name, rule.params[name], value) or ""
            if problem:
                line = _line_of(text, table, name if table != "rules.override" else "params", nth)
                at = f" (строка {line})" if line else ""
                label = (
                    f"[{table}] {name}" if table != "rules.override" else f"[[rules.override]] №{nth + 1} params.{name}"
                )
                raise ConfigError(f"Ошибка в конфигурации {where}:\n  ключ {label}{at}: {problem} (указано: {value!r})")


# tomllib's messages (English) and what they mean in Russian
_TOML_HINTS = (
    ("Expected '=' after a key", "после ключа ожидается «=»"),
    ("Invalid value", "недопустимое значение: строки пишутся в кавычках, даты — ГГГГ-ММ-ДД, да/нет — true/false"),
    ("Unclosed array", "список не закрыт скобкой «]»"),
    ("Unclosed inline table", "таблица не закрыта скобкой «}»"),
    ("Unterminated string", "строка не закрыта кавычкой"),
    ("Illegal character", "недопустимый символ"),
    ("Cannot overwrite a value", "ключ задан дважды"),
    ("Cannot declare", "таблица объявлена дважды"),
    ("Expected newline or end of document", "после значения в строке лишний текст"),
    ("Invalid initial character for a key part", "ключ начинается с недопустимого символа"),
    ("Invalid date or datetime", "дата или время записаны неверно (ГГГГ-ММ-ДД, ЧЧ:ММ:СС)"),
)


def toml_error_text(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """A TOML syntax error in Russian: what is wrong, the line and the line's text."""
    message = str(exc)
    hint = next((ru for en, ru in _TOML_HINTS if message.startswith(en)), "синтаксическая ошибка TOML")
    where = re.search(r"line (\d+), column (\d+)", message)
    if where is None:
        return f"в конце файла: {hint}" if "end of document" in message else hint
    line, column = int(where.group(1)), int(where.group(2))
    lines = text.splitlines()
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return f"строка {line}, позиция {column}: {hint}" + (f"\n  {line} | {shown}" if shown else "")


def _resolve(base: Path, p: Path) -> Path:
    p = p.expanduser()
    return p if p.is_absolute() else base / p


# What «init» leaves for the school to fill in: the documented example carries the emulated school's values
# (tests and the demo run on them); a real config.toml must not send letters in another school's name.
_PLACEHOLDERS = (
    ('name = "АНОО СОШ «Сота»"', 'name = ""  # ЗАПОЛНИТЕ: название школы, как в письмах учителям'),
    ("scid = 1\n", "# scid = 0  # ЗАПОЛНИТЕ, если на сервере несколько школ с похожими названиями\n"),
    ('login = "zavuch"', 'login = ""  # ЗАПОЛНИТЕ: логин сотрудника в АСУ РСО'),
)
_FILL_IN = {
    ("school", "name"): "впишите название школы (как в письмах учителям)",
    ("asurso", "login"): "впишите логин сотрудника в АСУ РСО (завуч или администратор с доступом ко всем классам)",
}


def init_config_text() -> str:
    """What ``init`` writes: the documented example with the school's own values left empty to fill in."""
    text = example_config_text()
    for example, placeholder in _PLACEHOLDERS:
        if example not in text:
            raise RuntimeError(f"config.example.toml no longer has {example!r}: update _PLACEHOLDERS")
        text = text.replace(example, placeholder, 1)
    return text


def require_filled(config: Config, *keys: tuple[str, str]) -> None:
    """Refuse (exit 2, the key named) a configuration whose ``keys`` are still empty as ``init`` left them."""
    for section, key in keys:
        value = getattr(getattr(config, section), key)
        if isinstance(value, str) and not value.strip():
            where = f" в {config.source}" if config.source else ""
            raise ConfigError(
                f"не заполнен ключ [{section}] {key}{where}: {_FILL_IN[section, key]}. "
                "«asurso-sync init» оставляет его пустым, чтобы программа не работала от имени другой школы."
            )


def example_config_text() -> str:
    """The documented example configuration shipped with the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "config.example.toml", here.parent / "config.example.toml"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError("config.example.toml")  # broken installation
