"""The admin pages' words in English and Russian (see web/i18n.py)."""

from __future__ import annotations

from web.i18n import extend

extend(
    {
        "en": {
            "settings.title": "Routing settings",
            "settings.change": "Change a setting",
            "settings.key": "Setting",
            "settings.scope": "Scope",
            "settings.scope_value": "Queue, number or class",
            "settings.value": "Value",
            "settings.save": "Save (in force for the next call)",
            "settings.saved": "Saved: {setting} = {value} ({scope}).",
            "settings.refused": "Not saved: {message}",
            "settings.stored": "Stored values",
            "settings.in_force": "In force for",
            "settings.show": "Show",
            "settings.source": "from",
            "settings.audit": "Changes",
            "settings.when": "When",
            "settings.who": "Who",
            "settings.old": "Old",
            "settings.new": "New",
        },
        "ru": {
            "settings.title": "Настройки маршрутизации",
            "settings.change": "Изменить настройку",
            "settings.key": "Настройка",
            "settings.scope": "Область",
            "settings.scope_value": "Очередь, номер или класс",
            "settings.value": "Значение",
            "settings.save": "Сохранить (действует со следующего звонка)",
            "settings.saved": "Сохранено: {setting} = {value} ({scope}).",
            "settings.refused": "Не сохранено: {message}",
            "settings.stored": "Заданные значения",
            "settings.in_force": "Действует для",
            "settings.show": "Показать",
            "settings.source": "из",
            "settings.audit": "Изменения",
            "settings.when": "Когда",
            "settings.who": "Кто",
            "settings.old": "Было",
            "settings.new": "Стало",
        },
    }
)
