"""How a hyper-parameter is declared: a dataclass field whose metadata holds a `Hyperparameter` (label, help,
bounds, the methods it applies to, defaults per method). `mlcore/config.py` declares them; the config's own
checks, the API's params schema and the training form all read them through `hyperparameters()`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any, Literal, get_args, get_origin, get_type_hints

HYPERPARAMETER = "hyperparameter"  # the key of a dataclass field's metadata that declares it one


@dataclass(frozen=True)
class Hyperparameter:
    """How one hyper-parameter is described and bounded. `gt`/`ge` and `lt`/`le` are the range that makes
    sense (worded "in (0, 1]", "at least 1", "positive"); `at_most` is a cap that only keeps requests sane.
    `per_method` gives the default by method where the field's own default is None, `per_method_lora` the
    default of a LoRA run where that differs."""

    label: str
    help: str
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    at_most: float | None = None
    unit: str = ""
    methods: tuple[str, ...] = ()  # the methods that read it; empty: every method
    per_method: Mapping[str, Any] = field(default_factory=dict)
    per_method_lora: Mapping[str, Any] = field(default_factory=dict)
    chosen_by_caller: bool = True  # False: a setting of the run itself, left out of the API and the form

    def problem(self, value: float) -> str | None:
        """What is wrong with a number, worded for someone filling in a form; None when it is fine."""
        low_ok = (self.gt is None or value > self.gt) and (self.ge is None or value >= self.ge)
        high_ok = (self.lt is None or value < self.lt) and (self.le is None or value <= self.le)
        if not (low_ok and high_ok):
            return f"must be {self.range_in_words()}, got {value!r}"
        if self.at_most is not None and value > self.at_most:
            return f"must be at most {self.at_most}{self._unit()}, got {value!r}"
        return None

    def range_in_words(self) -> str:
        low, high = _first(self.gt, self.ge), _first(self.lt, self.le)
        if low is not None and high is not None:
            opening, closing = "(" if self.gt is not None else "[", ")" if self.lt is not None else "]"
            return f"in {opening}{low}, {high}{closing}"
        if self.gt == 0:
            return "positive"
        if low is not None:
            return f"{'greater than' if self.gt is not None else 'at least'} {low}{self._unit()}"
        if high is not None:
            return f"{'below' if self.lt is not None else 'at most'} {high}{self._unit()}"
        return "a number"

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


@dataclass(frozen=True)
class DeclaredHyperparameter:
    """A hyper-parameter as declared on a config dataclass: its field's name, type and default, and how it is
    described. `numeric` says whether it is a number; `choices` lists the values of a Literal type."""

    name: str
    annotation: Any
    default: Any
    description: Hyperparameter

    @property
    def choices(self) -> tuple[Any, ...]:
        return get_args(self.annotation) if get_origin(self.annotation) is Literal else ()

    @property
    def numeric(self) -> bool:
        return bool({int, float} & {self.annotation, *get_args(self.annotation)})

    def defaults_in_words(self) -> str:
        """The default as a person reads it: one value, or one per method (and per method under LoRA)."""
        per_method, per_lora = self.description.per_method, self.description.per_method_lora
        if not per_method:
            return _in_words(self.default)
        if len(set(per_method.values())) == 1 and not per_lora:
            return _in_words(next(iter(per_method.values())))
        words = ", ".join(f"{method} {_in_words(value)}" for method, value in per_method.items())
        if per_lora:
            words += "; with LoRA " + ", ".join(f"{method} {_in_words(v)}" for method, v in per_lora.items())
        return words


def _in_words(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def hyperparameters(config_cls: type) -> tuple[DeclaredHyperparameter, ...]:
    """The hyper-parameters declared on `config_cls` (TrainConfig, LoraSettings), in declaration order."""
    hints = get_type_hints(config_cls)
    declared: list[Field[Any]] = [f for f in fields(config_cls) if HYPERPARAMETER in f.metadata]
    return tuple(
        DeclaredHyperparameter(f.name, hints[f.name], f.default, f.metadata[HYPERPARAMETER]) for f in declared
    )


def check_numbers(config: object, prefix: str = "") -> None:
    """Each declared number is one: a form or JSON may have sent text, and comparing text would crash."""
    for declared in hyperparameters(type(config)):
        value = getattr(config, declared.name)
        if declared.numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"{prefix}{declared.name} must be a number, got {value!r}")


def check_bounds(config: object, prefix: str = "") -> None:
    """Each declared hyper-parameter within its bounds, or among its choices."""
    for declared in hyperparameters(type(config)):
        value = getattr(config, declared.name)
        if declared.choices and value not in declared.choices:
            allowed = ", ".join(map(str, declared.choices))
            raise ValueError(f"{prefix}{declared.name} must be one of {allowed}, got {value!r}")
        problem = declared.description.problem(value) if declared.numeric else None
        if problem:
            raise ValueError(f"{prefix}{declared.name} {problem}")
