"""The product's own prompts, in English and Russian, made reproducibly with a speech synthesizer
from Debian's packages (espeak-ng, resampled with sox to the 8 kHz 16-bit mono WAV Asterisk
plays), into `<sounds>/<language>/sticky-router/<name>.wav`.

    sticky-router prompts --to /usr/share/asterisk/sounds [--language en --language ru]
    python3 sticky_router/process/prompts.py --to ...      (the same, standard library only)

Recordings win: a prompt that already has a file of that name (any format: a studio recording
dropped in as .wav, .gsm, .sln16) is left alone unless `--replace`. Playback() picks the set by
the caller's channel language (the router sets it from the customer's language).

Nothing in a prompt speaks of the ticket or the caller: caller ID is not authentication.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FOLDER = "sticky-router"
# espeak-ng's voices for each language (`espeak-ng --voices`), at an unhurried pace.
VOICES = {"en": "en-us", "ru": "ru"}
WORDS_PER_MINUTE = "150"

PROMPTS: dict[str, dict[str, str]] = {
    # Short: the agent's phone rings only once it has been said (routing.md, "The attempt").
    "connecting-to-your-agent": {
        "en": "Connecting you to your agent.",
        "ru": "Соединяем с вашим оператором.",
    },
    "agent-on-another-call": {
        "en": "Your agent is on another call.",
        "ru": "Ваш оператор сейчас разговаривает с другим абонентом.",
    },
    "press-1-to-wait": {
        "en": "To wait for your agent, press 1. Or stay on the line for the next free agent.",
        "ru": "Чтобы дождаться своего оператора, нажмите 1. Или оставайтесь на линии, "
        "и вам ответит первый свободный оператор.",
    },
    "press-1-to-wait-or-2-for-a-callback": {
        "en": "To wait for your agent, press 1. To be called back by your agent, press 2. "
        "Or stay on the line for the next free agent.",
        "ru": "Чтобы дождаться своего оператора, нажмите 1. Чтобы оператор перезвонил вам, "
        "нажмите 2. Или оставайтесь на линии, и вам ответит первый свободный оператор.",
    },
    "callback-confirmed": {
        "en": "Thank you. Your agent will call you back.",
        "ru": "Спасибо. Ваш оператор вам перезвонит.",
    },
    "outage-notice": {
        "en": "We know about a service outage in your area and are already working on it.",
        "ru": "Мы знаем о неполадке в вашем районе и уже её устраняем.",
    },
}


# The wait offer's estimate, one prompt per whole minute (routing_core.wait_offer), each said
# as the language says it ("около трёх минут": after "около" no plural rule is needed).
_MINUTES_EN = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_MINUTES_RU = (
    "одной минуты", "двух минут", "трёх минут", "четырёх минут", "пяти минут",
    "шести минут", "семи минут", "восьми минут", "девяти минут", "десяти минут",
)  # fmt: skip
for _n, (_en, _ru) in enumerate(zip(_MINUTES_EN, _MINUTES_RU, strict=True), start=1):
    PROMPTS[f"about-{_n}-minutes"] = {
        "en": f"The wait is about {_en} minute{'' if _n == 1 else 's'}.",
        "ru": f"Ожидание — около {_ru}.",
    }


class PromptToolsMissing(RuntimeError):
    """espeak-ng or sox is not installed (scripts/bootstrap installs both)."""


@dataclass(frozen=True, slots=True)
class Made:
    path: Path
    made: bool  # False: a file of that name was there already (a recording) and was kept


def make_prompts(folders: Mapping[str, Path], *, replace: bool = False) -> list[Made]:
    """Every prompt in each language's sounds folder (`{"en": .../sounds/en}`), under
    `sticky-router/`; what was made and what was kept."""
    tools = {name: shutil.which(name) for name in ("espeak-ng", "sox")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        raise PromptToolsMissing(f"install {' and '.join(missing)} (Debian: apt-get install "
                                 f"{' '.join(missing)})")  # fmt: skip
    done = []
    for language, sounds in folders.items():
        if language not in VOICES:
            raise ValueError(f"no voice for language {language!r}; known: {', '.join(VOICES)}")
        folder = sounds / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        for name, texts in PROMPTS.items():
            target = folder / f"{name}.wav"
            if not replace and any(folder.glob(f"{name}.*")):
                done.append(Made(target, made=False))
                continue
            _speak(str(tools["espeak-ng"]), str(tools["sox"]), VOICES[language],
                   texts[language], target)  # fmt: skip
            done.append(Made(target, made=True))
    return done


def _speak(espeak: str, sox: str, voice: str, text: str, target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        spoken = Path(scratch) / "spoken.wav"
        subprocess.run(
            [espeak, "-v", voice, "-s", WORDS_PER_MINUTE, "-w", str(spoken), text],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        # -D: no dither, so the same text always gives the same bytes.
        written = Path(scratch) / "asterisk.wav"
        subprocess.run(
            [sox, "-D", str(spoken), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
             str(written)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.move(written, target)  # whole, never half-written where Asterisk reads


def add_prompt_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prompts = commands.add_parser(
        "prompts",
        help="make the product's prompts (English and Russian) for Asterisk with espeak-ng and "
        "sox; recordings already in place are kept",
    )
    sounds = "Asterisk's sounds folder, e.g. /usr/share/asterisk/sounds"
    prompts.add_argument("--to", required=True, type=Path, help=sounds)
    prompts.add_argument("--language", action="append", choices=sorted(VOICES),
                         help="repeat for several (default: all)")  # fmt: skip
    prompts.add_argument("--replace", action="store_true",
                         help="make them again even where a file of that name exists")  # fmt: skip


def run_prompt_command(args: argparse.Namespace) -> None:
    folders = {language: args.to / language for language in args.language or sorted(VOICES)}
    for made in make_prompts(folders, replace=args.replace):
        print(f"{'made' if made.made else 'kept'} {made.path}")


def main() -> None:
    """As a script, with the standard library only (the Asterisk image runs it so)."""
    parser = argparse.ArgumentParser(prog="prompts", description=__doc__.splitlines()[0])
    add_prompt_command(parser.add_subparsers(dest="command", required=True))
    run_prompt_command(parser.parse_args(["prompts", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
