"""slot_init builds a frozen, slotted dataclass as the dataclass's own `__init__` would, keeps
it frozen, and refuses the kinds of field it does not handle."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from sticky_router.routing_core import candidates, decision, model
from sticky_router.routing_core.slot_init import slot_init


@slot_init
@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    count: int = 1
    tags: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlainSample:
    name: str
    count: int = 1
    tags: dict[str, int] = field(default_factory=dict)


def test_fields_are_set_by_position_and_by_keyword() -> None:
    assert Sample("a", 2, {"x": 1}) == Sample(tags={"x": 1}, count=2, name="a")
    built = Sample("a", 2, {"x": 1})
    assert (built.name, built.count, built.tags) == ("a", 2, {"x": 1})


def test_defaults_and_a_fresh_factory_value_per_instance() -> None:
    first, second = Sample("a"), Sample("b")
    assert first.count == 1
    assert first.tags == {}
    assert first.tags is not second.tags


def test_argument_errors_are_those_of_the_dataclass_init() -> None:
    calls: tuple[Callable[[type], object], ...] = (
        lambda cls: cls(),
        lambda cls: cls("a", nope=1),
        lambda cls: cls("a", 1, {}, 4),
        lambda cls: cls("a", name="b"),
    )
    for call in calls:
        with pytest.raises(TypeError):
            call(PlainSample)
        with pytest.raises(TypeError):
            call(Sample)


def test_the_value_stays_frozen_hashable_and_replaceable() -> None:
    built = Sample("a")
    with pytest.raises(FrozenInstanceError):
        built.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        object.__setattr__(built, "other", 1)  # still slotted: no __dict__ to add to
    with pytest.raises(TypeError):
        hash(Sample("a"))  # a dict field is unhashable, exactly as with the dataclass
    key = model.CallerKey(model.KeyKind.NUMBER, "+3725551234")
    assert {key, model.CallerKey(model.KeyKind.NUMBER, "+3725551234")} == {key}
    assert dataclasses.replace(built, count=5) == Sample("a", 5)


def test_unsupported_classes_and_fields_are_refused_when_defined() -> None:
    @dataclass(slots=True)
    class NotFrozen:
        name: str

    @dataclass(frozen=True)
    class NoSlots:
        name: str

    @dataclass(frozen=True, slots=True)
    class KeywordOnly:
        name: str = field(kw_only=True)

    @dataclass(frozen=True, slots=True)
    class NotInInit:
        name: str = field(default="x", init=False)

    @dataclass(frozen=True, slots=True)
    class PostInit:
        name: str

        def __post_init__(self) -> None:
            pass

    for cls in (NotFrozen, NoSlots, KeywordOnly, NotInInit, PostInit):
        with pytest.raises(TypeError):
            slot_init(cls)


def _values_with_slot_init() -> list[type]:
    found = []
    for module in (model, decision, candidates):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and dataclasses.is_dataclass(value)
                and value.__module__ == module.__name__
                and value.__init__.__code__.co_filename.startswith("<slot_init ")
            ):
                found.append(value)
    return found


def test_the_routing_core_values_use_it() -> None:
    names = {cls.__name__ for cls in _values_with_slot_init()}
    assert {"IncomingCall", "CallerFacts", "PastInteraction", "Leg", "DecisionContext"} <= names
    assert {"QueueDecision", "StickyDecision", "Candidate", "Walk"} <= names


@pytest.mark.parametrize("cls", _values_with_slot_init(), ids=lambda cls: cls.__name__)
def test_each_signature_is_the_dataclass_one(cls: type) -> None:
    parameters = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in parameters] == [f.name for f in fields]
    for parameter, declared in zip(parameters, fields, strict=True):
        assert parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        if declared.default is not dataclasses.MISSING:
            assert parameter.default == declared.default
        elif declared.default_factory is dataclasses.MISSING:
            assert parameter.default is inspect.Parameter.empty
