"""The interface's words in English and Russian, chosen per person (agents.language).

`translate(language, key, **values)` falls back to English for an unknown language and to the
key itself for an unknown key, so a missing translation shows up on screen instead of failing.
Values are formatted in as plain text; escaping is the template's (or textContent's) job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "app.title": "Sticky router",
        "sign_in.agent_title": "Agent sign-in",
        "sign_in.admin_title": "Administrator sign-in",
        "sign_in.name": "Name",
        "sign_in.password": "Password",
        "sign_in.submit": "Sign in",
        "sign_in.failed": "Wrong name or password.",
        "sign_in.too_many": "Too many failed sign-ins. Try again in {seconds} seconds.",
        "sign_in.expired": "Your session has ended. Please sign in again.",
        "sign_out": "Sign out",
        "forbidden": "This page is not for your account.",
        "csrf_failed": "The form was stale or came from another site. Reload the page and retry.",
        "admin.home_title": "Administration",
        "admin.home_intro": "Signed in as {name}.",
        "agent.waiting": "Waiting for a call. The caller's details appear here when your phone "
        "rings.",
        "agent.connected": "Connected",
        "agent.disconnected": "Reconnecting...",
        "agent.signed_in_as": "Signed in as {name}",
        "agent.callbacks": "Callbacks you owe",
        "agent.no_callbacks": "No caller is waiting for your call back.",
        "agent.callback_unknown": "Caller not identified",
        "agent.callback_asked": "asked at {at}, yours until {until}",
        "agent.callback_dialling": "ringing your phone",
        "agent.callback_tried": "tried {attempts} time(s)",
        "agent.call_now": "Call now",
    },
    "ru": {
        "app.title": "Sticky router",
        "sign_in.agent_title": "Вход для оператора",
        "sign_in.admin_title": "Вход для администратора",
        "sign_in.name": "Имя",
        "sign_in.password": "Пароль",
        "sign_in.submit": "Войти",
        "sign_in.failed": "Неверное имя или пароль.",
        "sign_in.too_many": "Слишком много неудачных попыток. Повторите через {seconds} с.",
        "sign_in.expired": "Сеанс завершён. Войдите снова.",
        "sign_out": "Выйти",
        "forbidden": "Эта страница не для вашей учётной записи.",
        "csrf_failed": "Форма устарела или пришла с другого сайта. Обновите страницу.",
        "admin.home_title": "Администрирование",
        "admin.home_intro": "Вы вошли как {name}.",
        "agent.waiting": "Ожидание звонка. Данные звонящего появятся здесь, когда зазвонит "
        "ваш телефон.",
        "agent.connected": "На связи",
        "agent.disconnected": "Переподключение...",
        "agent.signed_in_as": "Вы вошли как {name}",
        "agent.callbacks": "Кому вы обещали перезвонить",
        "agent.no_callbacks": "Никто не ждёт вашего звонка.",
        "agent.callback_unknown": "Абонент не опознан",
        "agent.callback_asked": "просил в {at}, за вами до {until}",
        "agent.callback_dialling": "звоним на ваш телефон",
        "agent.callback_tried": "попыток: {attempts}",
        "agent.call_now": "Позвонить сейчас",
    },
}


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def translate(language: str | None, key: str, **values: Any) -> str:
    words = CATALOGUE[language_of(language)].get(key) or CATALOGUE[DEFAULT_LANGUAGE].get(key)
    if words is None:
        return key
    return words.format(**values) if values else words


def translator(language: str | None) -> Callable[..., str]:
    lang = language_of(language)

    def t(key: str, **values: Any) -> str:
        return translate(lang, key, **values)

    return t


def words_for(language: str | None, prefixes: tuple[str, ...]) -> dict[str, str]:
    """Every word whose key starts with one of `prefixes`, for a page's script."""
    lang = language_of(language)
    keys = {k for k in CATALOGUE[DEFAULT_LANGUAGE] if k.startswith(prefixes)}
    return {key: translate(lang, key) for key in sorted(keys)}


def extend(entries: dict[str, dict[str, str]]) -> None:
    """Add a module's words (e.g. the admin pages'): {"en": {...}, "ru": {...}}."""
    for lang, words in entries.items():
        CATALOGUE.setdefault(lang, {}).update(words)
