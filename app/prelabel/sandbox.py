"""The sandbox prompt templates render in, with limits: a lead's template may not reach Python objects
(Jinja2's immutable sandbox), load other templates, or make the server allocate or spin.

Every value the template builds is checked against `max_chars` as it is made: before for what can be
sized beforehand (`'a' * n`, widths like `center(n)` or `'%9999999s'`, `range(n)`, `sep.join(x)`,
`s.replace('', t)`), after for the rest (`+`, `~`), so an intermediate value never exceeds twice the
limit. The output is counted as it is produced, and the clock is read at every call, filter, operator,
loop step and output chunk. Refusals are `SecurityError`s (a TemplateError) with a message for the lead."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from app.core.config import get_settings

_NOT_ALLOWED = {
    nodes.Include: "{% include %}",
    nodes.Extends: "{% extends %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}",
}
_NUMBER = re.compile(r"\d+")
_FORMAT_SPEC = re.compile(r"%[^a-zA-Z%]*|\{[^{}]*\}")  # printf-style and str.format fields
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_WIDTH_FILTERS = frozenset({"center", "indent"})
_TICKED = "preflab_ticked"  # the clock-reading wrapper every for loop's iterable is passed through


_PASSED = (Context, EvalContext, ImmutableSandboxedEnvironment)  # what Jinja hands pass_* filters first


class _CheckedConcat(CodeGenerator):
    """`a ~ b` is compiled to a plain join the sandbox never sees: route its result through a check."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked(")
        super().visit_Concat(node, frame)
        self.write(")")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "%", "+", "**"})
    code_generator_class = _CheckedConcat

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._deadline = threading.local()
        self.globals["range"] = self._range
        self.globals[_TICKED] = self._ticked
        self.filters = {name: self._checked_filter(name, f) for name, f in self.filters.items()}

    # Read at each check (a cached object), so a changed setting applies at once; filters with constant
    # arguments run when a template compiles, before any render sets a deadline.
    @property
    def max_chars(self) -> int:
        return get_settings().prompt_max_chars

    @property
    def max_range(self) -> int:
        return get_settings().prompt_max_range

    @property
    def seconds(self) -> float:
        return get_settings().prompt_render_seconds

    # ── what a template may contain ──
    def prepare(self, ast: nodes.Template) -> nodes.Template:
        """Refuse loading other templates; make every for loop read the clock at each step."""
        for node_type, tag in _NOT_ALLOWED.items():
            found = next(ast.find_all(node_type), None)
            if found is not None:
                raise SecurityError(
                    f"line {found.lineno}: {tag} is not allowed in a prompt template; "
                    "write the text into the template itself"
                )
        for loop in ast.find_all(nodes.For):
            ticked = nodes.Call(nodes.Name(_TICKED, "load"), [loop.iter], [], None, None)
            loop.iter = ticked.set_lineno(loop.lineno).set_environment(self)
        return ast

    # ── limits while rendering ──
    def render(self, template: Any, context: dict[str, Any]) -> str:
        """The template's output, refused when it grows past max_chars or takes longer than `seconds`."""
        self._deadline.at = time.monotonic() + self.seconds
        try:
            out: list[str] = []
            size = 0
            for chunk in template.generate(context):
                size += len(chunk)
                if size > self.max_chars:
                    raise SecurityError(f"the rendered prompt is longer than {self.max_chars} characters")
                self.tick()
                out.append(chunk)
            return "".join(out)
        finally:
            self._deadline.at = None

    def tick(self) -> None:
        at = getattr(self._deadline, "at", None)
        if at is not None and time.monotonic() > at:
            raise SecurityError(f"the template took longer than {self.seconds:g} s to render")

    def checked(self, value: Any) -> Any:
        self.tick()
        if isinstance(value, str | list | tuple | bytes) and len(value) > self.max_chars:
            raise SecurityError(f"the template builds a value longer than {self.max_chars} characters")
        return value

    def _refuse_over(self, size: int, what: str) -> None:
        if size > self.max_chars:
            raise SecurityError(f"{what} would be longer than {self.max_chars} characters")

    def _check_format(self, fmt: str) -> None:
        for spec in _FORMAT_SPEC.findall(fmt):
            for number in _NUMBER.findall(spec):
                self._refuse_over(
                    int(number) if len(number) < 20 else self.max_chars + 1, "a formatted width"
                )

    def _check_widths(self, args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any]) -> None:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool):
                self._refuse_over(abs(arg), f"a width of {arg}")

    def _range(self, *args: int) -> Iterator[int]:
        steps = range(*args)
        if len(steps) > self.max_range:
            raise SecurityError(f"range() of more than {self.max_range} numbers is not allowed")
        for i in steps:
            self.tick()
            yield i

    def _ticked(self, items: Any) -> Iterator[Any]:
        for item in items:
            self.tick()
            yield item

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        if operator == "*":
            sized, count = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(sized, str | list | tuple) and isinstance(count, int):
                self._refuse_over(len(sized) * count, "a repetition")
        elif operator == "%" and isinstance(left, str):
            self._check_format(left)
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            self._refuse_over(left.bit_length() * right // 3, "a power")
        return self.checked(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.tick()
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if name in _WIDTH_METHODS:
                __self._check_widths(args, kwargs)
            elif name == "join" and args and hasattr(args[0], "__len__"):
                __self._refuse_over(len(owner) * len(args[0]), "a join")
            elif name == "replace" and len(args) >= 2 and isinstance(args[1], str):
                __self._refuse_over(len(owner) * (len(args[1]) + 1), "a replace")
        return __self.checked(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`'{:>9999999}'.format(x)`: the sandbox wraps str.format when it is looked up; check it there."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and isinstance(value.__self__, str):
            self._check_format(value.__self__)
        return wrapped

    def _checked_filter(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def checked_filter(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            # filters marked pass_context / pass_environment get that first, then the value
            values = [a for a in args if not isinstance(a, _PASSED)]
            if name in _WIDTH_FILTERS:
                self._check_widths(values[1:], kwargs)
            elif name == "format" and values and isinstance(values[0], str):
                self._check_format(values[0])
            elif (
                name == "join"
                and len(values) >= 2
                and isinstance(values[1], str)
                and hasattr(values[0], "__len__")
            ):
                self._refuse_over(len(values[1]) * len(values[0]), "a join")
            return self.checked(function(*args, **kwargs))

        if hasattr(function, "jinja_pass_arg"):  # Jinja's pass_context / pass_environment mark
            checked_filter.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
        checked_filter.__name__ = getattr(function, "__name__", name)
        return checked_filter
