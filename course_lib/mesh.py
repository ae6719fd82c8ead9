"""The service mesh's retry and timeout policy, as Envoy applies it (sans-I/O, exact, seeded).

The module's notes give an Istio ``VirtualService`` for ``payment-service``::

    timeout: 3.000s
    retries:
      attempts: 3
      perTryTimeout: 1.000s
      retryOn: "5xx,connect-failure,refused-stream"

Istio hands that policy to the Envoy sidecar, and Envoy applies it to every
request. This module is the course's reference for what Envoy does with it:

* :func:`parse_virtual_service` reads the YAML (PyYAML) into a
  :class:`MeshPolicy`; bad YAML, an unknown field or a bad value raises
  :class:`MeshConfigError`, whose message names the LINE;
* :func:`should_retry` decides whether one try's outcome is retried under a
  ``retryOn`` list; :func:`backoff_ceiling_ms` is Envoy's default back-off;
* :func:`apply_headers` applies the ``x-envoy-*`` request headers that override
  the policy for one request;
* :func:`simulate` replays one request: every try, per-try timeout, back-off
  and the route deadline, in whole milliseconds (no clock, no sleeping; the
  back-off's random draws are given, or made by :func:`random_draws` from a seed);
* :func:`worst_case` gives the worst-case numbers of a policy;
  :func:`amplification` the load that stacked retries put on the deepest
  service; :func:`retry_budget_allows` Envoy's retry budget; :func:`ejections`
  the outlier detection of a ``DestinationRule`` (the mesh's breaker).

Times are whole milliseconds (``int``), like Envoy's own timers and headers, so
every comparison is exact. Each rule below cites the documentation it follows.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import yaml

__all__ = [
    "BACKOFF_BASE_MS",
    "BACKOFF_CAP_MS",
    "EVENTS",
    "MODULE_POLICY_YAML",
    "RETRY_ON_CONDITIONS",
    "MeshConfigError",
    "MeshPolicy",
    "amplification",
    "apply_headers",
    "backoff_ceiling_ms",
    "backoff_delay_ms",
    "ejections",
    "final_status",
    "parse_duration_ms",
    "parse_virtual_service",
    "random_draws",
    "retry_budget_allows",
    "should_retry",
    "simulate",
    "worst_case",
]

# --- the documentation each rule follows ----------------------------------------------------

ISTIO_HTTP_RETRY: Final = (
    "https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry"
)
ISTIO_HTTP_ROUTE: Final = (
    "https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute"
)
ENVOY_ROUTER: Final = (
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter"
)
ENVOY_BACKOFF: Final = (
    "https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/backoff.proto"
)
ENVOY_CIRCUIT_BREAKERS: Final = (
    "https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/circuit_breaker.proto"
)
ENVOY_OUTLIER: Final = (
    "https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier"
)
ENVOY_OUTLIER_PROTO: Final = (
    "https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/outlier_detection.proto"
)

MODULE_POLICY_YAML: Final = """\
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: payment-service-route
spec:
  hosts:
  - payment-service
  http:
  - route:
    - destination:
        host: payment-service
    timeout: 3.000s
    retries:
      attempts: 3
      perTryTimeout: 1.000s
      retryOn: "5xx,connect-failure,refused-stream"
"""
"""The VirtualService of the module's notes, as YAML text."""

# Source: ENVOY_ROUTER, "x-envoy-retry-on" (the conditions this course models).
RETRY_ON_CONDITIONS: Final[tuple[str, ...]] = (
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "refused-stream",
    "retriable-4xx",
)
"""The ``retryOn`` conditions this course models (Envoy has a few more, e.g. gRPC ones)."""

EVENTS: Final[tuple[str, ...]] = ("connect-failure", "refused-stream", "reset", "hang")
"""Outcomes of a try that are not an HTTP status: the connection or stream failed, or
the upstream never answered (``hang``: only a timeout ends that try)."""

# Source: ENVOY_ROUTER, "x-envoy-max-retries": "Envoy uses a fully jittered exponential
# backoff algorithm for retries with a base time of 25ms"; ENVOY_BACKOFF: max_interval
# "The default is 10 times the base_interval".
BACKOFF_BASE_MS: Final = 25
BACKOFF_CAP_MS: Final = 10 * BACKOFF_BASE_MS


class MeshConfigError(ValueError):
    """A VirtualService (or a header) that cannot be read; the message names the line."""


# --- the policy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeshPolicy:
    """One HTTP route's timeout and retry policy, in whole milliseconds.

    Attributes:
        host: The destination host of the route.
        timeout_ms: The route timeout; ``None`` = no route timeout (Istio's default:
            "timeout ... disabled by default", ISTIO_HTTP_ROUTE).
        attempts: Retries after the first try (ISTIO_HTTP_RETRY: "Number of retries to
            be allowed for a given request"); a request makes at most ``1 + attempts``
            tries.
        per_try_timeout_ms: The timeout of every try, the first included; ``None`` =
            no per-try timeout (ISTIO_HTTP_RETRY: "Default is same value as request
            timeout of the HTTP route, which means no timeout").
        retry_on: The ``retryOn`` conditions, in the order written.
    """

    host: str
    timeout_ms: int | None
    attempts: int
    per_try_timeout_ms: int | None
    retry_on: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The policy as the plain dict the notebook's exercises use (no ``host``)."""
        return {
            "timeout_ms": self.timeout_ms,
            "attempts": self.attempts,
            "per_try_timeout_ms": self.per_try_timeout_ms,
            "retry_on": list(self.retry_on),
        }


def _policy_of(policy: MeshPolicy | Mapping[str, Any]) -> MeshPolicy:
    """Accept a :class:`MeshPolicy` or its :meth:`~MeshPolicy.as_dict` form."""
    if isinstance(policy, MeshPolicy):
        return policy
    if not isinstance(policy, Mapping):
        raise TypeError(f"policy must be a MeshPolicy or a dict, got {type(policy).__name__}")
    known = {"timeout_ms", "attempts", "per_try_timeout_ms", "retry_on", "host"}
    unknown = sorted(set(policy) - known)
    if unknown:
        raise ValueError(f"policy has unknown keys {unknown}; known: {sorted(known)}")
    timeout = policy.get("timeout_ms")
    per_try = policy.get("per_try_timeout_ms")
    attempts = policy.get("attempts", 0)
    for name, value in (("timeout_ms", timeout), ("per_try_timeout_ms", per_try)):
        if value is not None and (type(value) is not int or value < 1):
            raise ValueError(f"{name} must be a whole number of milliseconds >= 1 or None")
    if type(attempts) is not int or attempts < 0:
        raise ValueError(f"attempts must be a whole number >= 0, got {attempts!r}")
    retry_on = tuple(policy.get("retry_on", ()))
    for condition in retry_on:
        if condition not in RETRY_ON_CONDITIONS:
            raise ValueError(f"unknown retry_on condition {condition!r}")
    return MeshPolicy(str(policy.get("host", "")), timeout, attempts, per_try, retry_on)


# --- reading the VirtualService ------------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(h|m|s|ms)$")
_UNIT_MS: Final = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}


def parse_duration_ms(text: str) -> int:
    """An Istio duration (``"3.000s"``, ``"250ms"``, ``"1m"``, ``"1h"``) in whole milliseconds.

    Source: ISTIO_HTTP_RETRY, perTryTimeout: "Format: 1h/1m/1s/1ms. MUST BE >=1ms."

    Raises:
        ValueError: Not such a duration, below 1 ms, or not a whole number of ms.
    """
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 3.000s, 250ms, 1m or 1h")
    try:
        value = Decimal(match.group(1)) * _UNIT_MS[match.group(2)]
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise ValueError(f"{text!r} is not a duration") from None
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of milliseconds")
    if value < 1:
        raise ValueError(f"{text!r} is below the minimum of 1ms")
    return int(value)


# The fields of the subset of a VirtualService this course reads (ISTIO_HTTP_ROUTE).
_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "": ("apiVersion", "kind", "metadata", "spec"),
    "metadata": ("name", "namespace", "labels", "annotations"),
    "spec": ("hosts", "gateways", "http"),
    "http": ("name", "match", "route", "timeout", "retries"),
    "route": ("destination", "weight", "headers"),
    "destination": ("host", "subset", "port"),
    "retries": ("attempts", "perTryTimeout", "retryOn", "retryRemoteLocalities"),
}


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _fail(node: yaml.Node, message: str) -> MeshConfigError:
    return MeshConfigError(f"line {_line(node)}: {message}")


def _mapping(node: yaml.Node, where: str, kind: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """The keys of a mapping node, each unknown key refused naming its line."""
    if not isinstance(node, yaml.MappingNode):
        raise _fail(node, f"{where} should be a mapping of fields")
    known = _FIELDS[kind]
    found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if not isinstance(name, str) or name not in known:
            shown = where or "the top level"
            raise _fail(key, f"unknown field {name!r} in {shown} (known there: {', '.join(known)})")
        if name in found:
            raise _fail(key, f"field {name!r} appears twice in {where or 'the top level'}")
        found[name] = (key, value)
    return found


def _sequence(node: yaml.Node, where: str) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(node, f"{where} should be a list")
    return list(node.value)


def _scalar(node: yaml.Node, where: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _fail(node, f"{where} should be a single value")
    return str(node.value)


def parse_virtual_service(text: str) -> MeshPolicy:
    """Read an Istio VirtualService with one HTTP route into a :class:`MeshPolicy`.

    Rules (ISTIO_HTTP_ROUTE, ISTIO_HTTP_RETRY): ``kind`` is ``VirtualService``;
    ``spec.http`` holds exactly one route here; ``timeout`` and ``perTryTimeout``
    are durations of at least 1 ms; ``attempts`` is a whole number >= 0 (without a
    ``retries`` block: 0 retries); ``retryOn`` is a comma-separated list of
    :data:`RETRY_ON_CONDITIONS`.

    Args:
        text: The YAML text.

    Returns:
        The route's policy.

    Raises:
        MeshConfigError: Bad YAML, an unknown field, a missing field or a bad value;
            the message starts with ``line N:``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise MeshConfigError(f"line {line}: not valid YAML ({error.problem})") from None
    except yaml.YAMLError as error:
        raise MeshConfigError(f"line 1: not valid YAML ({error})") from None
    if root is None:
        raise MeshConfigError("line 1: the text is empty, not a VirtualService")
    top = _mapping(root, "", "")
    for required in ("kind", "spec"):
        if required not in top:
            raise _fail(root, f"the field {required!r} is missing")
    kind_node = top["kind"][1]
    if _scalar(kind_node, "kind") != "VirtualService":
        raise _fail(kind_node, f"kind is {kind_node.value!r}, not 'VirtualService'")
    if "metadata" in top:
        _mapping(top["metadata"][1], "metadata", "metadata")
    spec = _mapping(top["spec"][1], "spec", "spec")
    if "http" not in spec:
        raise _fail(top["spec"][0], "spec has no 'http' routes")
    routes = _sequence(spec["http"][1], "spec.http")
    if len(routes) != 1:
        raise _fail(
            spec["http"][0], f"spec.http should hold one route here, it holds {len(routes)}"
        )
    http = _mapping(routes[0], "spec.http[0]", "http")
    if "route" not in http:
        raise _fail(routes[0], "spec.http[0] has no 'route'")
    host = ""
    for i, destination in enumerate(_sequence(http["route"][1], "spec.http[0].route")):
        where = f"spec.http[0].route[{i}]"
        fields = _mapping(destination, where, "route")
        if "destination" not in fields:
            raise _fail(destination, f"{where} has no 'destination'")
        dest = _mapping(fields["destination"][1], f"{where}.destination", "destination")
        if "host" not in dest:
            raise _fail(fields["destination"][0], f"{where}.destination has no 'host'")
        host = host or _scalar(dest["host"][1], f"{where}.destination.host")
    timeout_ms = None
    if "timeout" in http:
        node = http["timeout"][1]
        try:
            timeout_ms = parse_duration_ms(_scalar(node, "timeout"))
        except MeshConfigError:
            raise
        except ValueError as error:
            raise _fail(node, f"timeout: {error}") from None
    attempts: int = 0
    per_try_ms: int | None = None
    retry_on: tuple[str, ...] = ()
    if "retries" in http:
        retries = _mapping(http["retries"][1], "spec.http[0].retries", "retries")
        if "attempts" in retries:
            node = retries["attempts"][1]
            raw = _scalar(node, "attempts")
            if not re.fullmatch(r"\d+", raw):
                raise _fail(node, f"attempts should be a whole number >= 0, got {raw!r}")
            attempts = int(raw)
        if "perTryTimeout" in retries:
            node = retries["perTryTimeout"][1]
            try:
                per_try_ms = parse_duration_ms(_scalar(node, "perTryTimeout"))
            except MeshConfigError:
                raise
            except ValueError as error:
                raise _fail(node, f"perTryTimeout: {error}") from None
        if "retryOn" in retries:
            node = retries["retryOn"][1]
            conditions = [c.strip() for c in _scalar(node, "retryOn").split(",")]
            for condition in conditions:
                if condition not in RETRY_ON_CONDITIONS:
                    raise _fail(
                        node,
                        f"retryOn condition {condition!r} is not one of "
                        f"{', '.join(RETRY_ON_CONDITIONS)}",
                    )
            retry_on = tuple(dict.fromkeys(conditions))
    return MeshPolicy(host, timeout_ms, attempts, per_try_ms, retry_on)


# --- retry conditions and back-off ----------------------------------------------------------

#: Outcomes Envoy treats as a reset of the upstream stream (a per-try timeout is one too).
_RESETS: Final = frozenset({"connect-failure", "refused-stream", "reset", "per-try-timeout"})


def _status(outcome: str) -> int | None:
    return int(outcome) if re.fullmatch(r"[1-5]\d\d", outcome) else None


def should_retry(outcome: str, retry_on: Sequence[str]) -> bool:
    """Whether Envoy retries a try that ended with ``outcome`` under ``retry_on``.

    ``outcome`` is an HTTP status as text (``"503"``), one of :data:`EVENTS` but
    ``hang``, or ``"per-try-timeout"``. Rules, from ENVOY_ROUTER ("x-envoy-retry-on"):

    * ``5xx``: any 5xx status, "or does not respond at all (disconnect/reset/read
      timeout)" - it "includes connect-failure and refused-stream" (and a per-try
      timeout, which Envoy handles as a reset of the try);
    * ``gateway-error``: 502, 503 or 504, and the same resets and timeouts as ``5xx``;
    * ``reset``: the upstream "does not respond at all (disconnect/reset/read
      timeout)": any reset, connect failure, refused stream or per-try timeout;
    * ``connect-failure``: a failed connection only; ``refused-stream``: a
      REFUSED_STREAM reset only;
    * ``retriable-4xx``: "Currently, the only response code in this category is 409."

    Raises:
        ValueError: An unknown outcome or condition.
    """
    for condition in retry_on:
        if condition not in RETRY_ON_CONDITIONS:
            raise ValueError(f"unknown retry_on condition {condition!r}")
    status = _status(outcome)
    if status is None and outcome not in _RESETS:
        raise ValueError(f"unknown outcome {outcome!r}")
    conditions = set(retry_on)
    if status is not None:
        if "5xx" in conditions and 500 <= status <= 599:
            return True
        if "gateway-error" in conditions and status in (502, 503, 504):
            return True
        return "retriable-4xx" in conditions and status == 409
    if conditions & {"5xx", "gateway-error", "reset"}:
        return True
    if outcome == "connect-failure" and "connect-failure" in conditions:
        return True
    return outcome == "refused-stream" and "refused-stream" in conditions


def backoff_ceiling_ms(retry_number: int) -> int:
    """The exclusive upper bound of Envoy's back-off before retry ``retry_number`` (1, 2, ...).

    ENVOY_ROUTER: "a fully jittered exponential backoff algorithm for retries with a
    base time of 25ms. The first retry will be delayed randomly between 0-24ms, the
    2nd between 0-74ms, the 3rd between 0-174ms and so on", i.e. uniformly in
    ``[0, (2**n - 1) * 25 ms)``; ENVOY_BACKOFF: the interval is capped at
    ``max_interval``, "10 times the base_interval" = 250 ms by default.

    Raises:
        ValueError: ``retry_number`` is not a whole number >= 1.
    """
    if type(retry_number) is not int or retry_number < 1:
        raise ValueError(f"retry_number must be a whole number >= 1, got {retry_number!r}")
    if retry_number > 8:  # (2**9 - 1) * 25 is already far above the cap
        return BACKOFF_CAP_MS
    ceiling: int = (2**retry_number - 1) * BACKOFF_BASE_MS
    return min(BACKOFF_CAP_MS, ceiling)


def backoff_delay_ms(retry_number: int, draw: int) -> int:
    """The back-off before retry ``retry_number`` for one random ``draw`` (an int >= 0).

    Envoy picks ``random() % ceiling``: a whole number of ms in ``[0, ceiling)``.
    """
    if type(draw) is not int or draw < 0:
        raise ValueError(f"draw must be a whole number >= 0, got {draw!r}")
    delay: int = draw % backoff_ceiling_ms(retry_number)
    return delay


def random_draws(count: int, seed: int) -> list[int]:
    """``count`` seeded random draws (32-bit ints) for :func:`simulate`'s back-offs."""
    rng = random.Random(seed)
    return [rng.getrandbits(32) for _ in range(count)]


# --- header overrides -----------------------------------------------------------------------

_HEADERS: Final = (
    "x-envoy-max-retries",
    "x-envoy-retry-on",
    "x-envoy-upstream-rq-timeout-ms",
    "x-envoy-upstream-rq-per-try-timeout-ms",
)


def _header_int(name: str, value: str, minimum: int) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"\d+", value.strip()):
        raise MeshConfigError(f"header {name}: {value!r} is not a whole number")
    number = int(value.strip())
    if number < minimum:
        raise MeshConfigError(f"header {name}: {number} is below {minimum}")
    return number


def apply_headers(policy: MeshPolicy | Mapping[str, Any], headers: Mapping[str, str]) -> MeshPolicy:
    """The policy one request gets once its ``x-envoy-*`` headers override the route's.

    Rules (ENVOY_ROUTER, section "HTTP headers (consumed)"); names are case-insensitive,
    other headers are ignored:

    * ``x-envoy-upstream-rq-timeout-ms``: replaces the route timeout.
    * ``x-envoy-upstream-rq-per-try-timeout-ms``: the per-try timeout; it "must be <=
      the global route timeout ... or it is ignored" (the route timeout after the
      header above; with no route timeout it always applies).
    * ``x-envoy-retry-on``: its conditions are added to the route's; with a route
      that has no retries (``attempts`` 0) Envoy retries once ("the number of
      retries defaults to 1").
    * ``x-envoy-max-retries``: "If max retries is set both by header as well as in
      the route configuration, the maximum value is taken".

    Raises:
        MeshConfigError: A value that is not a whole number (a timeout below 1 ms),
            or an unknown ``x-envoy-retry-on`` condition; the message names the header.
    """
    base = _policy_of(policy)
    given = {str(name).lower(): value for name, value in headers.items()}
    timeout, per_try = base.timeout_ms, base.per_try_timeout_ms
    attempts, retry_on = base.attempts, list(base.retry_on)
    if "x-envoy-upstream-rq-timeout-ms" in given:
        timeout = _header_int(
            "x-envoy-upstream-rq-timeout-ms", given["x-envoy-upstream-rq-timeout-ms"], 1
        )
    if "x-envoy-upstream-rq-per-try-timeout-ms" in given:
        wanted = _header_int(
            "x-envoy-upstream-rq-per-try-timeout-ms",
            given["x-envoy-upstream-rq-per-try-timeout-ms"],
            1,
        )
        if timeout is None or wanted <= timeout:
            per_try = wanted
    if "x-envoy-retry-on" in given:
        raw = given["x-envoy-retry-on"]
        for condition in (c.strip() for c in str(raw).split(",")):
            if condition not in RETRY_ON_CONDITIONS:
                raise MeshConfigError(f"header x-envoy-retry-on: unknown condition {condition!r}")
            if condition not in retry_on:
                retry_on.append(condition)
        if attempts == 0:
            attempts = 1
    if "x-envoy-max-retries" in given:
        attempts = max(
            attempts, _header_int("x-envoy-max-retries", given["x-envoy-max-retries"], 0)
        )
    return MeshPolicy(base.host, timeout, attempts, per_try, tuple(retry_on))


# --- one request, replayed ------------------------------------------------------------------


def final_status(outcome: str) -> int:
    """The status Envoy answers the client with when a try ends with ``outcome``, not retried.

    A status is passed on; a failed connection, refused stream or reset becomes
    503 ("upstream connect error or disconnect/reset before headers"); a per-try
    or route timeout becomes 504 ("upstream request timeout"). Source: ENVOY_ROUTER.
    """
    status = _status(outcome)
    if status is not None:
        return status
    if outcome in ("per-try-timeout", "route-timeout"):
        return 504
    if outcome in ("connect-failure", "refused-stream", "reset"):
        return 503
    raise ValueError(f"unknown outcome {outcome!r}")


def _check_tries(tries: Sequence[Sequence[Any]]) -> list[tuple[str, int]]:
    checked = []
    for i, item in enumerate(tries):
        if len(item) != 2:
            raise ValueError(f"tries[{i}] should be [outcome, milliseconds], got {item!r}")
        outcome, ms = item
        if not isinstance(outcome, str) or (_status(outcome) is None and outcome not in EVENTS):
            raise ValueError(f"tries[{i}]: unknown outcome {outcome!r}")
        if type(ms) is not int or ms < 0:
            raise ValueError(f"tries[{i}]: milliseconds must be a whole number >= 0, got {ms!r}")
        checked.append((outcome, ms))
    return checked


def simulate(
    policy: MeshPolicy | Mapping[str, Any],
    tries: Sequence[Sequence[Any]],
    draws: Sequence[int],
) -> dict[str, Any]:
    """Replay one request through Envoy under ``policy``: every try, to the end.

    ``tries[i]`` is what the upstream would do with try ``i``: ``[outcome, ms]``,
    the outcome (a status as text, or one of :data:`EVENTS`) ``ms`` milliseconds
    after the try starts (``hang``: never; its ``ms`` is ignored). ``draws[n-1]``
    is the random draw of the back-off before retry ``n`` (see
    :func:`backoff_delay_ms`). The request starts at 0 ms. Rules:

    * the route timeout "includes all retries" (ENVOY_ROUTER): at ``timeout_ms``
      the request ends with 504, whatever is under way (a try or a back-off);
    * the per-try timeout applies to every try, the first included (ISTIO_HTTP_RETRY);
      a try that reaches it ends as ``per-try-timeout``;
    * a timeout fires at its instant: an answer must come strictly before it
      (the route deadline before the per-try timeout, if they fall together);
    * ``attempts`` retries come after the first try: at most ``1 + attempts``
      tries (ISTIO_HTTP_RETRY: "Number of retries");
    * a try is retried if :func:`should_retry` says so and retries are left;
      retry ``n`` starts :func:`backoff_delay_ms` after the try before it ended;
      a retry that would start at or after the deadline never starts.

    Returns:
        ``{"tries": [[start_ms, end_ms, outcome], ...], "status": int | None,
        "ended_at": int | None}``; the outcome of a try is the upstream's, or
        ``"per-try-timeout"`` or ``"route-timeout"``; ``status`` is what the client
        gets (:func:`final_status`); ``None`` and ``None`` if the request never ends
        (a ``hang`` with neither timeout).

    Raises:
        ValueError: ``tries`` or ``draws`` run out before the request ends, or
            hold a bad entry.
    """
    rules = _policy_of(policy)
    upstream = _check_tries(tries)
    deadline = rules.timeout_ms if rules.timeout_ms is not None else math.inf
    per_try = rules.per_try_timeout_ms if rules.per_try_timeout_ms is not None else math.inf
    timeline: list[list[Any]] = []
    start = 0
    retries = 0
    while True:
        if len(timeline) >= len(upstream):
            raise ValueError(f"tries ran out: the request needs try number {len(timeline) + 1}")
        outcome, ms = upstream[len(timeline)]
        answer = math.inf if outcome == "hang" else start + ms
        try_end = start + per_try
        if deadline <= min(answer, try_end):
            if math.isinf(deadline):
                timeline.append([start, None, "hang"])
                return {"tries": timeline, "status": None, "ended_at": None}
            timeline.append([start, int(deadline), "route-timeout"])
            return {"tries": timeline, "status": 504, "ended_at": int(deadline)}
        if try_end <= answer:
            end, result = int(try_end), "per-try-timeout"
        else:
            end, result = int(answer), outcome
        timeline.append([start, end, result])
        if retries >= rules.attempts or not should_retry(result, rules.retry_on):
            return {"tries": timeline, "status": final_status(result), "ended_at": end}
        retries += 1
        if retries > len(draws):
            raise ValueError(f"draws ran out: retry {retries} needs draws[{retries - 1}]")
        start = end + backoff_delay_ms(retries, draws[retries - 1])
        if start >= deadline:
            return {"tries": timeline, "status": 504, "ended_at": int(deadline)}


# --- the worst case, and stacked layers -----------------------------------------------------


def worst_case(policy: MeshPolicy | Mapping[str, Any]) -> dict[str, int | None]:
    """The worst-case numbers of one request under ``policy``, over every upstream behaviour.

    A try is retried only if :func:`should_retry` says so; in particular a try that
    hangs ends as a per-try timeout, which only ``5xx``, ``gateway-error`` and
    ``reset`` retry (ENVOY_ROUTER, "x-envoy-retry-on": they cover an upstream that
    "does not respond at all (disconnect/reset/read timeout)"; ``connect-failure``
    and ``refused-stream`` do not).

    * ``max_requests``: ``1 + attempts`` if ``retry_on`` names any condition (quick
      failures it retries always fit, back-offs can be 0 ms), else 1;
    * ``latency_ms``: the latest the request can end, bounded by the route timeout:
      ``max_requests`` tries and the longest back-offs (``ceiling - 1`` ms). The last
      try runs to its per-try timeout; a retried try too if per-try timeouts are
      retried, else it ends with a retriable answer 1 ms before its timeout (an
      answer counts only strictly before it). With no per-try timeout only the route
      timeout bounds it; ``None`` if nothing does;
    * ``tries_if_all_hang``: the most tries when every try hangs (back-offs of 0 ms):
      ``min(1 + attempts, ceil(timeout / perTryTimeout))`` if per-try timeouts are
      retried, else 1; ``None`` if nothing ends the first try.

    For the module's policy: ``4``, ``3000`` and ``3``.
    """
    rules = _policy_of(policy)
    max_requests = 1 + rules.attempts if rules.retry_on else 1
    hangs_retried = should_retry("per-try-timeout", rules.retry_on)
    per_try, timeout = rules.per_try_timeout_ms, rules.timeout_ms
    latency: int | None
    if per_try is None:
        latency = timeout
    else:
        retried_try = per_try if hangs_retried else per_try - 1
        backoffs = sum(backoff_ceiling_ms(n) - 1 for n in range(1, max_requests))
        unbounded = (max_requests - 1) * retried_try + per_try + backoffs
        latency = unbounded if timeout is None else min(timeout, unbounded)
    hang: int | None
    if per_try is None:
        hang = None if timeout is None else 1
    elif not hangs_retried:
        hang = 1
    elif timeout is None:
        hang = max_requests
    else:
        hang = min(max_requests, -(-timeout // per_try))
    return {"max_requests": max_requests, "latency_ms": latency, "tries_if_all_hang": hang}


def amplification(tries_per_layer: Sequence[int], budget_percent: float | None = None) -> float:
    """Requests that reach the deepest service per client request, in a total outage.

    Every layer that retries sends each request it gets up to ``tries`` times, so
    the factors **multiply** (Google SRE, "Addressing Cascading Failures": 3 layers
    x 4 attempts -> 64; Amazon Builders' Library: 5 layers x 3 tries = 243). With a
    retry budget of ``budget_percent`` at every layer, the retries a layer has in
    flight are at most that share of its active requests (ENVOY_CIRCUIT_BREAKERS,
    ``retry_budget.budget_percent``), so in a steady outage a layer sends at most
    ``1 + budget_percent / 100`` requests per request it gets: its factor is
    ``min(tries, 1 + budget_percent / 100)``.

    Returns:
        The product of the layers' factors (an ``int`` without a budget).

    Raises:
        ValueError: A layer with fewer than 1 try, or a negative budget.
    """
    for tries in tries_per_layer:
        if type(tries) is not int or tries < 1:
            raise ValueError(f"every layer makes at least 1 try, got {tries!r}")
    if budget_percent is None:
        return math.prod(tries_per_layer)
    if budget_percent < 0:
        raise ValueError(f"budget_percent must be >= 0, got {budget_percent!r}")
    return math.prod(min(float(tries), 1 + budget_percent / 100) for tries in tries_per_layer)


def retry_budget_allows(
    active_retries: int,
    active_requests: int,
    pending_requests: int,
    *,
    budget_percent: float = 20.0,
    min_retry_concurrency: int = 3,
) -> bool:
    """Whether Envoy's retry budget lets one more retry start now.

    ENVOY_CIRCUIT_BREAKERS, ``retry_budget``: "budget_percent: Specifies the limit on
    concurrent retries as a percentage of the sum of active requests and active
    pending requests ... This parameter is optional. Defaults to 20%";
    "min_retry_concurrency: Specifies the minimum retry concurrency allowed for the
    retry budget ... Defaults to 3".
    """
    limit = max(min_retry_concurrency, budget_percent / 100 * (active_requests + pending_requests))
    return active_retries < limit


# --- outlier detection: the mesh's breaker --------------------------------------------------


def ejections(
    responses: Sequence[Sequence[Any]],
    *,
    consecutive_5xx: int = 5,
    interval_ms: int = 10_000,
    base_ejection_ms: int = 30_000,
    max_ejection_ms: int = 300_000,
) -> list[list[int]]:
    """When one host is ejected and when it returns, under consecutive-5xx outlier detection.

    ``responses`` is the traffic the load balancer would send the host:
    ``[time_ms, is_5xx]`` in time order. Rules (ENVOY_OUTLIER, ENVOY_OUTLIER_PROTO;
    Istio's ``DestinationRule.trafficPolicy.outlierDetection`` names them
    ``consecutive5xxErrors``, ``interval``, ``baseEjectionTime``):

    * after ``consecutive_5xx`` 5xx answers in a row the host is ejected at once
      ("runs inline ... in the case of consecutive 5xx"); the count restarts;
    * it stays out for ``base_ejection_ms`` times the number of times it has been
      ejected ("The real time is equal to the base time multiplied by the number of
      times the host has been ejected"), at most ``max(max_ejection_ms,
      base_ejection_ms)`` (max_ejection_time, default 300 s);
    * the ejection ENDS: the host returns at the first analysis sweep (every
      ``interval_ms`` from 0: "The time interval between ejection analysis sweeps.
      This can result in both new ejections as well as hosts being returned to
      service") at or after that time;
    * while ejected the host gets no traffic: those responses never happen.

    (This model never forgets an ejection: the multiplier only grows, up to the cap.
    How a given Envoy version lets it decay while a host stays healthy is not modelled.
    It has one host, so ``maxEjectionPercent`` never binds.)

    Returns:
        ``[[ejected_at, returned_at], ...]``.
    """
    for name, value in (
        ("consecutive_5xx", consecutive_5xx),
        ("interval_ms", interval_ms),
        ("base_ejection_ms", base_ejection_ms),
        ("max_ejection_ms", max_ejection_ms),
    ):
        if type(value) is not int or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    result: list[list[int]] = []
    in_a_row = 0
    times_ejected = 0
    back_at = -1
    for time_ms, is_5xx in responses:
        if time_ms < back_at:
            continue  # ejected: the load balancer sends this host nothing
        if not is_5xx:
            in_a_row = 0
            continue
        in_a_row += 1
        if in_a_row < consecutive_5xx:
            continue
        in_a_row = 0
        times_ejected += 1
        duration = min(base_ejection_ms * times_ejected, max(max_ejection_ms, base_ejection_ms))
        until = time_ms + duration
        back_at = -(-until // interval_ms) * interval_ms
        result.append([int(time_ms), int(back_at)])
    return result
