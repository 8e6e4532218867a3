"""The settings page's words in English and Russian: each routing setting's label and one-line
explanation, units, choices, scopes and the preview's figures (see web/i18n/words.py)."""

from __future__ import annotations

from sticky_router.web.i18n.words import extend

extend(
    {
        "en": {
            "setting.enabled.label": "Sticky routing",
            "setting.enabled.help": "Off: every call goes straight to the queue, as if the "
            "router were not there.",
            "setting.window_minutes.label": "Window",
            "setting.window_minutes.help": "How long after the end of the last conversation a "
            "callback still goes to the same agent.",
            "setting.resolved_ticket_window_minutes.label": "Window once the ticket is resolved",
            "setting.resolved_ticket_window_minutes.help": "After the last call's ticket was "
            "resolved or closed, the callback goes to that agent only this long (0: not at all; "
            "the largest value: the window above).",
            "setting.outage_window_minutes.label": "Window during an outage",
            "setting.outage_window_minutes.help": "While an outage is declared for the call, "
            "a callback goes to the same agent only this long after the last call (0: "
            "stickiness paused).",
            "setting.auto_outage_waiting_callers.label": "Outage by itself: callers waiting",
            "setting.auto_outage_waiting_callers.help": "An outage starts by itself for a queue "
            "when this many callers wait and the longest has waited as long as below; it plays "
            "no notice (0: never by itself).",
            "setting.auto_outage_longest_wait_seconds.label": "Outage by itself: longest wait",
            "setting.auto_outage_longest_wait_seconds.help": "With the callers above, the wait "
            "of the longest-waiting caller that starts an outage by itself.",
            "setting.auto_outage_clear_seconds.label": "Outage by itself ends after",
            "setting.auto_outage_clear_seconds.help": "An outage that started by itself ends "
            "once the queue has stayed under half of either figure this long.",
            "setting.ring_timeout_seconds.label": "Ring the agent for",
            "setting.ring_timeout_seconds.help": "Unanswered after this, the caller goes to the "
            "queue; the most the attempt adds to their wait.",
            "setting.busy_wait_seconds.label": "Wait for a busy agent",
            "setting.busy_wait_seconds.help": "When the agent is on another call, keep the caller "
            "waiting this long for them to come free (0: to the queue at once).",
            "setting.wrap_up_seconds.label": "After-call work",
            "setting.wrap_up_seconds.help": "An agent whose last call ended less than this ago is "
            "not rung; set it to the queue's wrap-up time.",
            "setting.detour_budget_seconds.label": "Most waiting in all",
            "setting.detour_budget_seconds.help": "The most a caller waits for busy candidates "
            "together, however many there are.",
            "setting.wait_offer_seconds.label": "Offer to wait for a busy agent",
            "setting.wait_offer_seconds.help": "When the caller's agent is on another call, the "
            "caller hears an estimate and may press 1 to wait on hold for them, this long at "
            "most (0: not offered).",
            "setting.callback_expiry_minutes.label": "Callback from the same agent",
            "setting.callback_expiry_minutes.help": "With the wait offer, the caller may press 2 "
            "to be called back by their agent; the callback is that agent's for this long, then "
            "it goes to the admin pages' list (0: not offered).",
            "setting.wait_offer_answer_seconds.label": "Time to answer the wait offer",
            "setting.wait_offer_answer_seconds.help": "How long after the offer a key is waited "
            "for before the caller goes to the next free agent.",
            "setting.min_talk_seconds.label": "Shortest conversation that counts",
            "setting.min_talk_seconds.help": "A shorter call (a misdial, a wrong queue) does not "
            "make that agent the caller's agent.",
            "setting.sticky_cap_per_hour.label": "Callbacks per agent per hour",
            "setting.sticky_cap_per_hour.help": "An agent who has taken this many sticky callbacks "
            "in the last hour is not a target until the hour has passed.",
            "setting.target_precedence.label": "Who is tried first",
            "setting.target_precedence.help": "Whether the owner of the caller's open ticket is a "
            "target, and before or after the last agent.",
            "setting.announce.label": "Announce the connection",
            "setting.announce.help": "Play the prompt below once the agent is known to be free; "
            "never on a fallback.",
            "setting.announce_sound.label": "Announcement prompt",
            "setting.announce_sound.help": "The sound Asterisk plays to the caller before ringing "
            "their agent.",
            "setting.fallback_priority_boost.label": "Queue priority after a miss",
            "setting.fallback_priority_boost.help": "A callback that missed its agent enters the "
            "queue this many priority steps ahead of new calls.",
            "setting.overdue_promise_priority_boost.label": "Queue priority when we owe a call",
            "setting.overdue_promise_priority_boost.help": "A caller whose open ticket has a "
            "promised follow-up now overdue enters the queue this many steps ahead.",
            "setting.escalation_queue.label": "Second-line queue",
            "setting.escalation_queue.help": "Where a callback for a specialist falls back when "
            "the specialist cannot take it (empty: this same queue).",
            "setting.ambiguous_number_sticky.label": "Stick on a shared number",
            "setting.ambiguous_number_sticky.help": "A number several customers share (an office, "
            "a family) still reaches the last agent; no ticket is attached.",
            "setting.use_personal_manager.label": "Personal manager",
            "setting.use_personal_manager.help": "Customers with an assigned manager reach that "
            "manager first, whatever the window.",
            "setting.callerid_name_prefix.label": "Ticket in the phone's caller name",
            "setting.callerid_name_prefix.help": "Agents' phones without a screen show "
            "[T-1001] Ivan Petrov as the caller; the caller never hears or sees it.",
            "unit.minutes": "minutes",
            "unit.seconds": "seconds",
            "unit.calls_per_hour": "calls an hour",
            "unit.priority_steps": "steps",
            "unit.callers": "callers",
            "choice.target_precedence.last_agent": "The last agent only",
            "choice.target_precedence.owner_first": "The ticket's owner, then the last agent",
            "choice.target_precedence.owner_after_last_agent": "The last agent, then the "
            "ticket's owner",
            "switch.on": "On",
            "switch.off": "Off",
            "settings.range": "from {minimum} to {maximum} {unit}",
            "settings.for": "Settings for",
            "settings.everywhere": "Every call (global)",
            "settings.queues": "Queues",
            "settings.numbers": "Dialled numbers",
            "settings.classes": "Customer classes",
            "settings.scope_queue": "queue {value}",
            "settings.scope_did": "dialled number {value}",
            "settings.scope_customer_class": "class {value}",
            "settings.scope_global": "every call",
            "settings.in_force_now": "In force",
            "settings.from_default": "built-in default",
            "settings.from_global": "set for every call",
            "settings.from_here": "set here",
            "settings.new_value": "New value",
            "settings.preview": "Preview",
            "settings.clear": "Use the wider value",
            "settings.clear_global": "Back to the built-in default",
            "settings.cleared": "Cleared: {setting} now comes from the wider scope.",
            "settings.saved_in_words": "Saved: {setting} = {value} for {scope}. In force from "
            "the next call.",
            "settings.same_queue": "(this same queue)",
            "settings.sound_missing": "{sound} (not found on Asterisk)",
            "settings.no_prompt_list": "Asterisk's prompt list is not available here; type the "
            "sound's name (letters, digits, _ - /).",
            "settings.preview_title": "Predicted effect of {setting} = {value} for {scope}",
            "settings.preview_period": "Replayed {calls} recorded calls of the last {days} days "
            "in {seconds} s. Nothing was saved.",
            "settings.preview_none": "No calls were recorded in the last {days} days: there is "
            "nothing to predict from.",
            "settings.preview_busy": "Another preview is running; try again when it has finished.",
            "settings.preview_unavailable": "The preview needs the router's database URL.",
            "settings.save_this": "Save this value",
            "settings.now": "now",
            "settings.with_change": "with the change",
            "settings.load_title": "Sticky callbacks per agent",
            "settings.agent": "Agent",
            "settings.assumptions": "Assumptions: a preferred agent counts as there if they had "
            "a call ringing in that clock hour, as busy while a recorded call of theirs was "
            "ringing or talking; a free preferred agent answers; the caller's history is the "
            "recorded one under both settings; offered to wait for their busy agent, half the "
            "callers press 1 and, where a callback is offered, 3 in 10 press 2, of whom 8 in 10 "
            "answer when called back.",
            "figure.calls": "Calls replayed",
            "figure.eligible": "Callbacks that could be sticky",
            "figure.connected": "Reached their agent",
            "figure.share": "Share reaching their agent",
            "figure.wait": "Wait added (busy wait)",
            "figure.wait_per_call": "per callback that reached its agent",
            "figure.missed": "Missed: {reason}",
            "figure.load_max": "Sticky load of the busiest agent",
            "figure.load_mean": "Sticky load, mean per agent",
            "figure.peak_hour": "Most sticky callbacks to one agent in an hour",
            "reason.busy": "agent busy",
            "reason.offline": "agent logged out",
            "reason.window_expired": "window expired",
            "reason.ticket_resolved": "ticket resolved",
            "reason.outage": "outage declared",
            "reason.cap_reached": "hourly cap reached",
            "reason.do_not_pair": "do-not-pair",
            "reason.agent_inactive": "agent inactive",
            "reason.no_history": "no earlier call",
            "reason.paused": "agent paused",
            "reason.wrap_up": "agent in after-call work",
            "reason.unreachable": "agent's phone unreachable",
            "reason.no_answer": "agent did not answer",
            "reason.rejected": "agent rejected the call",
            "reason.ambiguous_caller": "number shared by several customers",
            "reason.db_timeout": "database too slow",
            "reason.db_error": "database error",
            "reason.caller_abandoned": "caller hung up",
            "reason.disabled": "sticky routing off",
            "reason.no_caller_key": "caller not identified",
            "reason.router_error": "router error",
            "reason.escalated_to_queue": "sent on to the second-line queue",
            "what_if.title": "What-if preview",
            "what_if.intro": "Replays every recorded call through the routing policy under the "
            "settings in force and under the candidate settings, side by side. Nothing is changed.",
            "what_if.changes": "Candidate settings, one key=value a line",
            "what_if.scope": "Scope (global, queue:NAME, did:NUMBER, customer_class:NAME)",
            "what_if.replayed": "{calls} calls replayed in {seconds} s.",
            "what_if.in_force": "in force",
            "what_if.candidate": "candidate",
            "dashboard.title": "Sticky routing, last {days} days",
            "dashboard.summary": "{connected} of {eligible} eligible callbacks connected to the "
            "preferred agent ({share}).",
            "dashboard.days": "days",
            "dashboard.share_chart": "Callbacks connected to the preferred agent, share per day",
            "dashboard.misses_chart": "Misses by reason (calls)",
            "dashboard.answer_chart": "Mean time to answer (s)",
            "dashboard.load_chart": "Sticky load: connected callbacks per agent",
            "dashboard.outages": "Outages in the period",
            "dashboard.lapsed_callbacks": "Callbacks not made: these callers are still owed a call",
            "dashboard.no_lapsed_callbacks": "Every callback asked for in the period was made or "
            "is still with its agent.",
            "dashboard.callback_caller": "Caller",
            "dashboard.callback_agent": "Agent",
            "dashboard.callback_asked": "Asked",
            "dashboard.callback_why": "Why not",
            "dashboard.callback_expired": "the agent was not free in time",
            "dashboard.callback_failed": "no answer after {attempts} tries",
            "dashboard.no_outages": "No outage in the period.",
            "dashboard.outage_scope": "For",
            "dashboard.outage_from": "From",
            "dashboard.outage_to": "To",
            "dashboard.outage_by": "Started by",
            "dashboard.outage_what": "What",
            "dashboard.outage_global": "every call",
            "dashboard.outage_queue": "queue {name}",
            "dashboard.outage_did": "number {name}",
            "dashboard.outage_in_force": "in force",
            "dashboard.outage_automatic": "by itself (queue backlog)",
        },
        "ru": {
            "setting.enabled.label": "Закрепление за оператором",
            "setting.enabled.help": "Выключено: все звонки сразу идут в очередь, как будто "
            "маршрутизатора нет.",
            "setting.window_minutes.label": "Окно",
            "setting.window_minutes.help": "Сколько времени после окончания последнего разговора "
            "повторный звонок идёт тому же оператору.",
            "setting.resolved_ticket_window_minutes.label": "Окно после решения заявки",
            "setting.resolved_ticket_window_minutes.help": "Если заявка последнего звонка решена "
            "или закрыта, повторный звонок идёт тому же оператору только столько (0: никогда; "
            "наибольшее значение: окно выше).",
            "setting.outage_window_minutes.label": "Окно во время аварии",
            "setting.outage_window_minutes.help": "Пока для звонка объявлена авария, повторный "
            "звонок идёт тому же оператору только столько после последнего разговора (0: "
            "закрепление приостановлено).",
            "setting.auto_outage_waiting_callers.label": "Авария сама: ждут абонентов",
            "setting.auto_outage_waiting_callers.help": "Авария для очереди начинается сама, "
            "когда ждут столько абонентов и дольше всех ждёт не меньше, чем ниже; сообщение "
            "не проигрывается (0: сама не начинается).",
            "setting.auto_outage_longest_wait_seconds.label": "Авария сама: дольше всех ждёт",
            "setting.auto_outage_longest_wait_seconds.help": "Вместе с числом ожидающих выше: "
            "сколько ждёт самый давний абонент, чтобы авария началась сама.",
            "setting.auto_outage_clear_seconds.label": "Авария сама заканчивается через",
            "setting.auto_outage_clear_seconds.help": "Авария, начавшаяся сама, заканчивается, "
            "когда очередь столько времени остаётся ниже половины любого из порогов.",
            "setting.ring_timeout_seconds.label": "Звонить оператору",
            "setting.ring_timeout_seconds.help": "Если оператор не ответил за это время, абонент "
            "идёт в очередь; больше попытка к ожиданию не добавляет.",
            "setting.busy_wait_seconds.label": "Ждать занятого оператора",
            "setting.busy_wait_seconds.help": "Если оператор говорит с другим абонентом, ждать "
            "его освобождения столько (0: сразу в очередь).",
            "setting.wrap_up_seconds.label": "Постобработка",
            "setting.wrap_up_seconds.help": "Оператору, чей последний звонок закончился раньше "
            "этого срока, не звоним; задайте время постобработки очереди.",
            "setting.detour_budget_seconds.label": "Всего ожидания не больше",
            "setting.detour_budget_seconds.help": "Сколько абонент в сумме ждёт занятых "
            "кандидатов, сколько бы их ни было.",
            "setting.wait_offer_seconds.label": "Предлагать дождаться занятого оператора",
            "setting.wait_offer_seconds.help": "Если оператор абонента говорит с другим, абонент "
            "слышит, сколько примерно ждать, и может нажать 1, чтобы ждать его с музыкой, не "
            "дольше этого (0: не предлагать).",
            "setting.callback_expiry_minutes.label": "Перезвон от того же оператора",
            "setting.callback_expiry_minutes.help": "Вместе с предложением дождаться абонент "
            "может нажать 2, чтобы оператор ему перезвонил; перезвон остаётся за этим "
            "оператором столько, потом уходит в список на страницах администратора (0: не "
            "предлагать).",
            "setting.wait_offer_answer_seconds.label": "Время на ответ",
            "setting.wait_offer_answer_seconds.help": "Сколько после предложения ждать нажатия, "
            "прежде чем соединить с первым свободным оператором.",
            "setting.min_talk_seconds.label": "Самый короткий разговор, который считается",
            "setting.min_talk_seconds.help": "После более короткого звонка (ошибся номером, не та "
            "очередь) оператор не становится «своим» для абонента.",
            "setting.sticky_cap_per_hour.label": "Повторных звонков оператору в час",
            "setting.sticky_cap_per_hour.help": "Оператор, принявший столько закреплённых звонков "
            "за последний час, не получает новых, пока час не пройдёт.",
            "setting.target_precedence.label": "Кому звоним сначала",
            "setting.target_precedence.help": "Участвует ли ответственный по открытой заявке "
            "абонента, и до или после последнего оператора.",
            "setting.announce.label": "Сообщать о соединении",
            "setting.announce.help": "Проиграть запись ниже, когда известно, что оператор "
            "свободен; при уходе в очередь — никогда.",
            "setting.announce_sound.label": "Запись сообщения",
            "setting.announce_sound.help": "Звук, который Asterisk проигрывает абоненту перед "
            "звонком его оператору.",
            "setting.fallback_priority_boost.label": "Приоритет в очереди после промаха",
            "setting.fallback_priority_boost.help": "Повторный звонок, не дошедший до своего "
            "оператора, встаёт в очередь на столько шагов впереди новых.",
            "setting.overdue_promise_priority_boost.label": "Приоритет, если мы должны позвонить",
            "setting.overdue_promise_priority_boost.help": "Абонент, чьё обещание перезвонить "
            "по открытой заявке просрочено, встаёт в очередь на столько шагов впереди.",
            "setting.escalation_queue.label": "Очередь второй линии",
            "setting.escalation_queue.help": "Куда идёт звонок для специалиста, если тот не может "
            "ответить (пусто: в эту же очередь).",
            "setting.ambiguous_number_sticky.label": "Закреплять общий номер",
            "setting.ambiguous_number_sticky.help": "Номер нескольких клиентов (офис, семья) тоже "
            "попадает к последнему оператору; заявка не прикрепляется.",
            "setting.use_personal_manager.label": "Персональный менеджер",
            "setting.use_personal_manager.help": "Клиенты с назначенным менеджером попадают "
            "сначала к нему, независимо от окна.",
            "setting.callerid_name_prefix.label": "Заявка в имени звонящего на телефоне",
            "setting.callerid_name_prefix.help": "Телефоны операторов без экрана показывают "
            "[T-1001] Иван Петров; абонент этого не слышит и не видит.",
            "unit.minutes": "мин",
            "unit.seconds": "с",
            "unit.calls_per_hour": "звонков в час",
            "unit.priority_steps": "шагов",
            "unit.callers": "абонентов",
            "choice.target_precedence.last_agent": "Только последний оператор",
            "choice.target_precedence.owner_first": "Ответственный по заявке, затем последний "
            "оператор",
            "choice.target_precedence.owner_after_last_agent": "Последний оператор, затем "
            "ответственный по заявке",
            "switch.on": "Вкл.",
            "switch.off": "Выкл.",
            "settings.range": "от {minimum} до {maximum} {unit}",
            "settings.for": "Настройки для",
            "settings.everywhere": "Всех звонков (глобально)",
            "settings.queues": "Очереди",
            "settings.numbers": "Набранные номера",
            "settings.classes": "Классы клиентов",
            "settings.scope_queue": "очереди {value}",
            "settings.scope_did": "номера {value}",
            "settings.scope_customer_class": "класса {value}",
            "settings.scope_global": "всех звонков",
            "settings.in_force_now": "Действует",
            "settings.from_default": "встроенное значение",
            "settings.from_global": "задано для всех звонков",
            "settings.from_here": "задано здесь",
            "settings.new_value": "Новое значение",
            "settings.preview": "Прогноз",
            "settings.clear": "Взять значение шире",
            "settings.clear_global": "Вернуть встроенное значение",
            "settings.cleared": "Сброшено: {setting} теперь берётся из более широкой области.",
            "settings.saved_in_words": "Сохранено: {setting} = {value} для {scope}. Действует со "
            "следующего звонка.",
            "settings.same_queue": "(эта же очередь)",
            "settings.sound_missing": "{sound} (нет на Asterisk)",
            "settings.no_prompt_list": "Список записей Asterisk здесь недоступен; введите имя "
            "звука (буквы, цифры, _ - /).",
            "settings.preview_title": "Прогноз для {setting} = {value} для {scope}",
            "settings.preview_period": "Проиграно {calls} записанных звонков за последние {days} "
            "дн. за {seconds} с. Ничего не сохранено.",
            "settings.preview_none": "За последние {days} дн. звонков не записано: прогнозировать "
            "не по чему.",
            "settings.preview_busy": "Уже строится другой прогноз; повторите, когда он закончится.",
            "settings.preview_unavailable": "Для прогноза нужен адрес базы данных маршрутизатора.",
            "settings.save_this": "Сохранить это значение",
            "settings.now": "сейчас",
            "settings.with_change": "с изменением",
            "settings.load_title": "Закреплённые звонки по операторам",
            "settings.agent": "Оператор",
            "settings.assumptions": "Допущения: предпочтительный оператор считается на месте, "
            "если в этот час ему звонили; занятым — пока его записанный звонок звонил или шёл "
            "разговор; свободный предпочтительный оператор отвечает; история абонента — "
            "записанная, при обоих вариантах настроек; из абонентов, которым предложили "
            "дождаться занятого оператора, половина нажимает 1, а где предложен перезвон, 3 из "
            "10 нажимают 2, и 8 из 10 из них отвечают на перезвон.",
            "figure.calls": "Проиграно звонков",
            "figure.eligible": "Повторных звонков, которые можно закрепить",
            "figure.connected": "Дошли до своего оператора",
            "figure.share": "Доля дошедших до своего оператора",
            "figure.wait": "Добавленное ожидание (ждали занятого)",
            "figure.wait_per_call": "на звонок, дошедший до своего оператора",
            "figure.missed": "Промах: {reason}",
            "figure.load_max": "Нагрузка самого загруженного оператора",
            "figure.load_mean": "Нагрузка, в среднем на оператора",
            "figure.peak_hour": "Больше всего закреплённых звонков одному оператору за час",
            "reason.busy": "оператор занят",
            "reason.offline": "оператор вышел из очереди",
            "reason.window_expired": "окно истекло",
            "reason.ticket_resolved": "заявка решена",
            "reason.outage": "объявлена авария",
            "reason.cap_reached": "достигнут лимит в час",
            "reason.do_not_pair": "запрет пары",
            "reason.agent_inactive": "оператор отключён",
            "reason.no_history": "раньше не звонил",
            "reason.paused": "оператор на паузе",
            "reason.wrap_up": "оператор на постобработке",
            "reason.unreachable": "телефон оператора недоступен",
            "reason.no_answer": "оператор не ответил",
            "reason.rejected": "оператор отклонил звонок",
            "reason.ambiguous_caller": "номер нескольких клиентов",
            "reason.db_timeout": "база данных не успела",
            "reason.db_error": "ошибка базы данных",
            "reason.caller_abandoned": "абонент положил трубку",
            "reason.disabled": "закрепление выключено",
            "reason.no_caller_key": "абонент не определён",
            "reason.router_error": "ошибка маршрутизатора",
            "reason.escalated_to_queue": "передан в очередь второй линии",
            "what_if.title": "Что если: прогноз",
            "what_if.intro": "Все записанные звонки проигрываются через политику маршрутизации с "
            "действующими настройками и с предложенными, рядом. Ничего не меняется.",
            "what_if.changes": "Предлагаемые настройки, по одной key=value в строке",
            "what_if.scope": "Область (global, queue:ИМЯ, did:НОМЕР, customer_class:ИМЯ)",
            "what_if.replayed": "Проиграно {calls} звонков за {seconds} с.",
            "what_if.in_force": "сейчас",
            "what_if.candidate": "предложено",
            "dashboard.title": "Закрепление за оператором, последние {days} дн.",
            "dashboard.summary": "{connected} из {eligible} повторных звонков дошли до своего "
            "оператора ({share}).",
            "dashboard.days": "дней",
            "dashboard.share_chart": "Доля повторных звонков, дошедших до своего оператора, по "
            "дням",
            "dashboard.misses_chart": "Промахи по причинам (звонков)",
            "dashboard.answer_chart": "Среднее время до ответа (с)",
            "dashboard.load_chart": "Нагрузка: закреплённые звонки по операторам",
            "dashboard.outages": "Аварии за период",
            "dashboard.lapsed_callbacks": "Несостоявшиеся перезвоны: этим абонентам ещё должны "
            "позвонить",
            "dashboard.no_lapsed_callbacks": "Все перезвоны за период сделаны или ещё за "
            "операторами.",
            "dashboard.callback_caller": "Абонент",
            "dashboard.callback_agent": "Оператор",
            "dashboard.callback_asked": "Когда просил",
            "dashboard.callback_why": "Почему нет",
            "dashboard.callback_expired": "оператор не освободился вовремя",
            "dashboard.callback_failed": "нет ответа после {attempts} попыток",
            "dashboard.no_outages": "За период аварий не было.",
            "dashboard.outage_scope": "Для",
            "dashboard.outage_from": "С",
            "dashboard.outage_to": "По",
            "dashboard.outage_by": "Кто объявил",
            "dashboard.outage_what": "Что",
            "dashboard.outage_global": "всех звонков",
            "dashboard.outage_queue": "очереди {name}",
            "dashboard.outage_did": "номера {name}",
            "dashboard.outage_in_force": "действует",
            "dashboard.outage_automatic": "сама (очередь переполнена)",
        },
    }
)
