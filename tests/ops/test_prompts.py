"""The product's prompts as a deployment makes them (`sticky-router prompts`), with the real
espeak-ng and sox: every prompt in English and Russian, in the format Asterisk plays, the same
bytes every time, a recording already in place kept."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from sticky_router.process.cli import main
from sticky_router.process.prompts import PROMPTS, VOICES, PromptToolsMissing, make_prompts


def test_every_prompt_in_every_language_is_made_as_asterisk_plays_it(tmp_path: Path) -> None:
    assert main(["prompts", "--to", str(tmp_path)]) == 0
    for language in VOICES:
        folder = tmp_path / language / "sticky-router"
        assert sorted(p.stem for p in folder.iterdir()) == sorted(PROMPTS)
        for prompt in folder.iterdir():
            with wave.open(str(prompt)) as sound:
                # format_wav: 8 kHz, 16-bit signed, mono.
                assert (sound.getframerate(), sound.getsampwidth(), sound.getnchannels()) == (
                    8000, 2, 1,
                ), prompt  # fmt: skip
                seconds = sound.getnframes() / 8000
            assert 1.0 < seconds < 15.0, (prompt, seconds)
    english = tmp_path / "en/sticky-router/press-1-to-wait.wav"
    russian = tmp_path / "ru/sticky-router/press-1-to-wait.wav"
    assert english.read_bytes() != russian.read_bytes()  # two voices, two texts


def test_the_same_text_gives_the_same_bytes_and_recordings_are_kept(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    make_prompts({"ru": first / "ru"})
    make_prompts({"ru": second / "ru"})
    for prompt in (first / "ru/sticky-router").iterdir():
        assert prompt.read_bytes() == (second / "ru/sticky-router" / prompt.name).read_bytes()

    folder = tmp_path / "ops/en/sticky-router"
    folder.mkdir(parents=True)
    (folder / "connecting-to-your-agent.gsm").write_bytes(b"a studio recording")
    made = {m.path.stem: m.made for m in make_prompts({"en": tmp_path / "ops/en"})}
    assert made["connecting-to-your-agent"] is False  # kept: no .wav made beside it
    assert not (folder / "connecting-to-your-agent.wav").exists()
    assert all(made[name] for name in PROMPTS if name != "connecting-to-your-agent")
    again = make_prompts({"en": tmp_path / "ops/en"}, replace=True)
    assert all(m.made for m in again)


def test_without_espeak_ng_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither tool on it
    with pytest.raises(PromptToolsMissing, match="install espeak-ng and sox"):
        make_prompts({"en": tmp_path / "en"})
    assert main(["prompts", "--to", str(tmp_path / "out")]) == 1
    monkeypatch.undo()
    with pytest.raises(ValueError, match="no voice for language 'de'"):
        make_prompts({"de": tmp_path / "de"})
