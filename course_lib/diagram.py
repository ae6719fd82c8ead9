"""Read and show Mermaid ``stateDiagram-v2`` state diagrams.

The diagram challenge (notebook 07) asks students to model the circuit breaker
as a Mermaid state diagram. This module turns the diagram's text into a
:class:`Diagram` the graders can inspect, and displays it in JupyterLab.

What the parser understands (a practical subset of Mermaid's grammar)::

    stateDiagram-v2                        the header (``stateDiagram`` is accepted too)
    %% a comment                           ignored, as are %%{init: ...}%% directives
    direction LR                           ignored
    [*] --> Closed : Start                 the initial state (at the top level)
    Closed --> Open : Failure Rate > 50%   a transition with its trigger label
    Closed : Normal operation              a state with a description
    state "Half open" as HalfOpen          a state with a long name
    state Closed { ... }                   a composite state: its inside is read
                                           and kept apart from the outer machine
    note right of Open : text              single-line note (ignored)
    note left of Open ... end note         multi-line note (ignored)
    classDef, class, style, accTitle, accDescr, ``--`` (concurrency)   ignored

State ids are read as Mermaid reads them: exactly as written, case included
(:func:`normalize_name` only strips the spaces around them). ``Closed`` and
``closed`` are two different states, and Mermaid draws two boxes; so are
``HalfOpen`` and ``Half_Open``. The checks of notebook 07 tell a student who
spelled one state two ways. Anything the parser cannot read is a
:class:`DiagramSyntaxError` that names the line and says what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "NOT_WRITTEN",
    "START",
    "Diagram",
    "DiagramSyntaxError",
    "Transition",
    "normalize_name",
    "parse",
    "require_written",
    "show",
    "show_side_by_side",
]

START = "[*]"
"""The pseudo-state Mermaid writes as ``[*]``: the start (as a source) or the end (as a target)."""

_NAME = r"(?:\[\*\]|[^\s:{}\"\[\]]+?)"
_CLASS_SUFFIX = r"(?::::[\w-]+)?"
_TRANSITION = re.compile(
    rf"^(?P<source>{_NAME}){_CLASS_SUFFIX}\s*-->\s*(?P<target>{_NAME}){_CLASS_SUFFIX}"
    r"\s*(?::(?P<label>.*))?$"
)
_STATE_AS = re.compile(r'^state\s+"(?P<long>[^"]*)"\s+as\s+(?P<name>[^\s{}"]+)\s*(?P<brace>\{)?$')
_STATE_PLAIN = re.compile(r"^state\s+(?P<name>[^\s{}\"]+)\s*(?:<<\w+>>)?\s*(?P<brace>\{)?$")
_DESCRIPTION = re.compile(r"^(?P<name>[^\s:{}\"\[\]]+)\s*:(?P<text>.*)$")
_NOTE_ONE_LINE = re.compile(r"^note\s+(?:left|right)\s+of\s+\S+\s*:.*$", re.IGNORECASE)
_NOTE_BLOCK = re.compile(r"^note\s+(?:left|right)\s+of\s+\S+\s*$", re.IGNORECASE)
_IGNORED = re.compile(
    r"^(?:direction\s+(?:LR|RL|TB|BT)|classDef\s.*|class\s.*|style\s.*|accTitle\s*:.*|"
    r"accDescr\s*:.*|hide\s+empty\s+description|scale\s.*)$",
    re.IGNORECASE,
)
_ARROW_TYPOS = ("->", "=>", "==>", "--->", "<--", "<-")


class DiagramSyntaxError(ValueError):
    """The diagram text is not a ``stateDiagram-v2`` this parser can read.

    Attributes:
        line: 1-based line number of the offending line (0 when the text is empty).
        text: that line, stripped.
    """

    def __init__(self, line: int, message: str, text: str = "") -> None:
        where = f"line {line}" if line else "diagram"
        shown = f": `{text}`" if text else ""
        super().__init__(f"{where}{shown}: {message}")
        self.line = line
        self.text = text


@dataclass(frozen=True, slots=True)
class Transition:
    """One arrow ``source --> target : label``.

    ``source`` and ``target`` are state ids exactly as written (Mermaid's ids are
    case-sensitive, see :func:`normalize_name`) or :data:`START` for ``[*]``.
    ``line`` is where the arrow was written.
    """

    source: str
    target: str
    label: str = ""
    line: int = 0

    def __str__(self) -> str:
        return f"{self.source} --> {self.target}" + (f" : {self.label}" if self.label else "")


@dataclass(frozen=True, slots=True)
class Diagram:
    """The outer state machine of a ``stateDiagram-v2``.

    Attributes:
        states: the top-level state ids, as written, in order of first mention.
        initial: the target of the first top-level ``[*] --> X``, or ``None``.
        transitions: every top-level arrow, in order, including ``[*] --> X``.
        names: state id -> its spelling in the text (the id itself: ids are exact).
        inner: composite state -> the arrows written inside it (ignored by the outer
            machine; nested composites are flattened into their outermost parent).
        descriptions: state id -> descriptions/long names given to it.
    """

    states: tuple[str, ...]
    initial: str | None
    transitions: tuple[Transition, ...]
    names: Mapping[str, str] = field(default_factory=dict)
    inner: Mapping[str, tuple[Transition, ...]] = field(default_factory=dict)
    descriptions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def initial_transitions(self) -> tuple[Transition, ...]:
        """Every top-level ``[*] --> X`` arrow (a well-formed machine has exactly one)."""
        return tuple(t for t in self.transitions if t.source == START)

    def between(self, source: str, target: str) -> tuple[Transition, ...]:
        """The top-level arrows from ``source`` to ``target`` (ids compared exactly)."""
        src, dst = _key(source), _key(target)
        return tuple(t for t in self.transitions if t.source == src and t.target == dst)

    def display(self, name: str) -> str:
        """The spelling the author used for a state (``[*]`` stays ``[*]``)."""
        return name if name == START else self.names.get(name, name)


def normalize_name(name: str) -> str:
    """A state id as Mermaid reads it: the name without the spaces around it.

    Mermaid state ids are case-sensitive and compared character by character:
    ``Closed``, ``closed`` and ``CLOSED`` are three states, and ``HalfOpen`` is
    not ``Half_Open``. So nothing is lower-cased or joined here.

    Args:
        name: a state name as written in a diagram.

    Returns:
        The id (``[*]`` stays ``[*]``).

    Raises:
        ValueError: ``name`` is not a string or has no letters or digits.

    Example:
        >>> [normalize_name(n) for n in ["HalfOpen", " half_open ", "Closed", "closed"]]
        ['HalfOpen', 'half_open', 'Closed', 'closed']
    """
    if not isinstance(name, str):
        raise ValueError(f"a state name must be a string, got {type(name).__name__}")
    text = name.strip()
    if text == START:
        return START
    if not any(ch.isalnum() for ch in text):
        raise ValueError(f"state name {name!r} has no letters or digits")
    return text


def _key(name: str) -> str:
    return normalize_name(name)


class _Builder:
    """Collects what :func:`parse` reads, keeping the outer machine apart from composites."""

    def __init__(self) -> None:
        self.states: list[str] = []
        self.names: dict[str, str] = {}
        self.transitions: list[Transition] = []
        self.inner: dict[str, list[Transition]] = {}
        self.descriptions: dict[str, list[str]] = {}
        self.stack: list[tuple[str, int]] = []  # (composite state, line it opened on)

    def state(self, raw: str, lineno: int, line: str) -> str:
        try:
            key = normalize_name(raw)
        except ValueError as error:
            raise DiagramSyntaxError(lineno, str(error), line) from None
        if key == START:
            return key
        if not self.stack and key not in self.names:
            self.states.append(key)
            self.names[key] = raw.strip()
        return key

    def describe(self, key: str, text: str) -> None:
        if not self.stack and text:
            self.descriptions.setdefault(key, []).append(text)

    def arrow(self, source: str, target: str, label: str, lineno: int, line: str) -> None:
        if self.stack:
            src, dst = _key(source), _key(target)
            self.inner.setdefault(self.stack[0][0], []).append(Transition(src, dst, label, lineno))
            return
        src = self.state(source, lineno, line)
        dst = self.state(target, lineno, line)
        self.transitions.append(Transition(src, dst, label, lineno))

    def build(self) -> Diagram:
        initial = next((t.target for t in self.transitions if t.source == START), None)
        return Diagram(
            states=tuple(self.states),
            initial=initial,
            transitions=tuple(self.transitions),
            names=dict(self.names),
            inner={k: tuple(v) for k, v in self.inner.items()},
            descriptions={k: tuple(v) for k, v in self.descriptions.items()},
        )


def _strip_front_matter(lines: list[str]) -> int:
    """Index of the first line after an optional ``---`` YAML front-matter block."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or lines[first].strip() != "---":
        return 0
    for i in range(first + 1, len(lines)):
        if lines[i].strip() == "---":
            return i + 1
    raise DiagramSyntaxError(first + 1, "the front matter opened with '---' is never closed")


def _unknown_line(lineno: int, line: str) -> DiagramSyntaxError:
    for typo in _ARROW_TYPOS:
        if typo in line and "-->" not in line:
            return DiagramSyntaxError(
                lineno,
                f"'{typo}' is not a Mermaid arrow: write transitions as `A --> B : label`",
                line,
            )
    if line.startswith("state ") or line == "state":
        return DiagramSyntaxError(
            lineno,
            'expected `state Name`, `state Name {` or `state "Long name" as Name`',
            line,
        )
    if "-->" in line:
        return DiagramSyntaxError(
            lineno,
            "cannot read this transition: write `Source --> Target : trigger` "
            "(state names without spaces; use [*] for the start)",
            line,
        )
    return DiagramSyntaxError(
        lineno,
        "expected a transition like `Closed --> Open : Failure Rate > Threshold`, "
        "a state (`state Open`), a composite state (`state Open {` ... `}`), "
        "a note or a %% comment",
        line,
    )


def parse(text: str) -> Diagram:
    """Parse Mermaid ``stateDiagram-v2`` text into its outer state machine.

    Args:
        text: the diagram, starting with ``stateDiagram-v2`` (leading blank lines,
            comments and ``---`` front matter are allowed). A ```` ```mermaid ````
            fence around it is removed.

    Returns:
        The :class:`Diagram`: top-level states, initial state and transitions;
        what composite states hold is kept in ``inner``.

    Raises:
        DiagramSyntaxError: a line cannot be read, the header is missing, or a
            ``{`` / note block is never closed. The message starts with the line number.
        ValueError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ValueError(f"the diagram must be a string (text), got {type(text).__name__}")
    lines = text.splitlines()
    fenced = [i for i, line in enumerate(lines) if line.strip().startswith("```")]
    if fenced and lines[fenced[0]].strip() in ("```mermaid", "```"):
        for i in fenced[:2]:
            lines[i] = ""
    start = _strip_front_matter(lines)
    builder = _Builder()
    header_seen = False
    in_note: int | None = None
    in_acc_descr: int | None = None

    for index in range(start, len(lines)):
        lineno = index + 1
        line = lines[index].strip().rstrip(";").strip()
        if in_note is not None:
            if line.lower() == "end note":
                in_note = None
            continue
        if in_acc_descr is not None:
            if line.endswith("}"):
                in_acc_descr = None
            continue
        if not line or line.startswith("%%"):
            continue
        if not header_seen:
            if re.fullmatch(r"stateDiagram(?:-v2)?", line):
                header_seen = True
                continue
            raise DiagramSyntaxError(
                lineno, "a state diagram must start with the line `stateDiagram-v2`", line
            )
        if _IGNORED.match(line):
            continue
        if re.match(r"^accDescr\s*\{", line):
            if not line.endswith("}"):
                in_acc_descr = lineno
            continue
        if line == "}":
            if not builder.stack:
                raise DiagramSyntaxError(lineno, "this '}' closes no `state Name {`", line)
            builder.stack.pop()
            continue
        if line == "--":
            if not builder.stack:
                raise DiagramSyntaxError(
                    lineno, "'--' (concurrent regions) only works inside `state Name { ... }`", line
                )
            continue
        if _NOTE_ONE_LINE.match(line):
            continue
        if _NOTE_BLOCK.match(line):
            in_note = lineno
            continue
        match = _STATE_AS.match(line) or _STATE_PLAIN.match(line)
        if match:
            name = match.group("name")
            key = builder.state(name, lineno, line)
            long_name = match.groupdict().get("long")
            if long_name:
                builder.describe(key, long_name.strip())
            if match.group("brace"):
                builder.stack.append(
                    (key, lineno) if not builder.stack else (builder.stack[0][0], lineno)
                )
            continue
        match = _TRANSITION.match(line)
        if match:
            label = (match.group("label") or "").strip()
            builder.arrow(match.group("source"), match.group("target"), label, lineno, line)
            continue
        match = _DESCRIPTION.match(line)
        if match:
            key = builder.state(match.group("name"), lineno, line)
            builder.describe(key, match.group("text").strip())
            continue
        raise _unknown_line(lineno, line)

    if not header_seen:
        raise DiagramSyntaxError(
            0, "the diagram is empty: start it with the line `stateDiagram-v2`"
        )
    if in_note is not None:
        raise DiagramSyntaxError(in_note, "this note is never closed with `end note`")
    if in_acc_descr is not None:
        raise DiagramSyntaxError(in_acc_descr, "this accDescr { is never closed with '}'")
    if builder.stack:
        _, opened = builder.stack[-1]
        raise DiagramSyntaxError(opened, "this `state ... {` is never closed with '}'")
    return builder.build()


class _MermaidDisplay:
    """What :func:`show` returns: renders as a diagram in JupyterLab >= 4.1.

    The mime bundle holds the diagram three ways: ``text/markdown`` (a caption and a
    ```` ```mermaid ```` fence), ``text/vnd.mermaid`` (the bare source) and ``text/plain``.
    JupyterLab 4.6 renders both of the first two as a diagram and picks the Markdown
    one (checked in a real browser by ``tests/test_browser.py``); ``text/plain`` is what
    a terminal or a front end without Mermaid shows.
    """

    def __init__(self, source: str, title: str) -> None:
        self.source = source
        self.title = title

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        heading = f"**{self.title}**\n\n" if self.title else ""
        return {
            "text/vnd.mermaid": self.source,
            "text/markdown": f"{heading}```mermaid\n{self.source}\n```\n",
            "text/plain": (f"{self.title}\n" if self.title else "") + self.source,
        }

    def __repr__(self) -> str:
        return self._repr_mimebundle_()["text/plain"]


NOT_WRITTEN = (
    "Not written yet: DIAGRAM is still None. Write your diagram as a string in the "
    "exercise cell above, then delete that cell's raise line."
)
"""What showing or checking a diagram says while the exercise cell still holds ``None``."""


def require_written(diagram_text: object) -> None:
    """Raise ``NotImplementedError(NOT_WRITTEN)`` if the student has not written a diagram yet."""
    if diagram_text is None:
        raise NotImplementedError(NOT_WRITTEN)


def show(diagram_text: str, *, title: str = "", check: bool = True) -> _MermaidDisplay:
    """Display a ``stateDiagram-v2`` in the notebook.

    Put it last in a cell (or pass it to ``IPython.display.display``) and
    JupyterLab draws it.

    Args:
        diagram_text: the Mermaid source.
        title: an optional caption shown above the diagram.
        check: parse the text first, so a mistake is reported with its line number
            instead of Mermaid's generic "Syntax error in text".

    Returns:
        An object JupyterLab renders as the diagram.

    Raises:
        DiagramSyntaxError: ``check`` is true and the text cannot be parsed.
        ValueError: ``diagram_text`` is not a string.
        NotImplementedError: ``diagram_text`` is still ``None`` (not written yet).
    """
    require_written(diagram_text)
    if not isinstance(diagram_text, str):
        raise ValueError(f"show() needs the diagram as a string, got {type(diagram_text).__name__}")
    if check:
        parse(diagram_text)
    return _MermaidDisplay(diagram_text.strip("\n"), title)


class _SideBySide:
    """What :func:`show_side_by_side` returns: two diagrams in the columns of one table."""

    def __init__(self, left: _MermaidDisplay, right: _MermaidDisplay) -> None:
        self.left = left
        self.right = right

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        # Markdown inside HTML table cells is parsed when blank lines separate it from the
        # tags (GitHub-flavoured Markdown, which JupyterLab's renderer follows).
        columns = [
            f'<td style="vertical-align: top">\n\n'
            f"{side._repr_mimebundle_()['text/markdown']}\n</td>"
            for side in (self.left, self.right)
        ]
        plain = [side._repr_mimebundle_()["text/plain"] for side in (self.left, self.right)]
        return {
            "text/markdown": "<table><tr>\n" + "\n".join(columns) + "\n</tr></table>\n",
            "text/plain": "\n\n".join(plain),
        }

    def __repr__(self) -> str:
        return self._repr_mimebundle_()["text/plain"]


def show_side_by_side(
    left: str,
    right: str,
    *,
    titles: tuple[str, str] = ("Your diagram", "The reference"),
    check: bool = True,
) -> _SideBySide:
    """Display two ``stateDiagram-v2`` diagrams next to each other (e.g. yours and the reference's).

    Args:
        left: the Mermaid source shown on the left.
        right: the Mermaid source shown on the right.
        titles: the captions above the two diagrams.
        check: parse both first (see :func:`show`).

    Returns:
        An object JupyterLab renders as a two-column table of diagrams.

    Raises:
        DiagramSyntaxError: ``check`` is true and a text cannot be parsed.
        ValueError: a diagram is not a string, or ``titles`` is not two strings.
        NotImplementedError: ``left`` is still ``None`` (not written yet).
    """
    if (
        not isinstance(titles, tuple)
        or len(titles) != 2
        or not all(isinstance(t, str) for t in titles)
    ):
        raise ValueError(f"titles must be a pair of strings, got {titles!r}")
    return _SideBySide(
        show(left, title=titles[0], check=check), show(right, title=titles[1], check=check)
    )
