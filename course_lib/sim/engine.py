"""The simulation engine: services with worker pools, calls between them, virtual time.

A thin facade over SimPy (``simpy.Environment``, ``Resource``, ``env.timeout``,
``a | b`` conditions) with one seeded ``random.Random`` and one
:class:`~course_lib.events.Trace`, so a notebook never touches generator
plumbing and the same seed always gives the same numbers::

    sim = Simulation(seed=1)
    sim.service("payments", workers=10, latency=Exponential(0.02))
    sim.service("orders", workers=10, latency=Constant(0.01),
                routes={"/checkout": [Call("payments", "/pay", timeout=0.5)]})
    sim.poisson("orders", "/checkout", rate=50)
    sim.inject(LatencySpike("payments", start=10, duration=10, extra_latency=2.0))
    sim.run(until=30)
    sim.metrics("orders").success_ratio("/checkout")

How a request is served (:meth:`Service.handle`): it is rejected at once if
the service is down or its queue is full; otherwise it waits for a worker
(giving up after ``queue_timeout``), then *holds that worker* while it does
its own work (a latency draw) and while it waits, in order, on each downstream
:class:`Call` of its route. Holding the worker while waiting downstream is what
makes a slow dependency exhaust its callers: the cascade.

Protection on a call edge is the reference library's own sans-I/O logic, told
the virtual time: a breaker (``allow(now)`` / ``record_success`` /
``record_failure``), a semaphore bulkhead (``try_acquire()`` / ``release()``),
a timeout (``yield callee | env.timeout(t)``: the caller stops waiting, the
callee does not know and keeps working), and retries decided by the library's
:class:`~course_lib.retry.RetryPolicy` (its backoff draws from the simulation's
seeded ``rng``, its budget is told the virtual time).
"""

from __future__ import annotations

import random
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import simpy

from course_lib._validate import check_fraction, check_int, check_number
from course_lib.backoff import Backoff
from course_lib.budget import RetryBudget
from course_lib.events import Event, RetryGaveUp, RetryScheduled, TimeoutExpired, Trace
from course_lib.retry import BUDGET, RetryPolicy
from course_lib.sim.distributions import Distribution
from course_lib.sim.events import FaultEnded, FaultStarted, RequestFinished
from course_lib.sim.faults import Fault, Hang, Outage, Recovery
from course_lib.sim.metrics import CallMetrics, Outcome, ServiceMetrics

__all__ = [
    "AttemptFailed",
    "BulkheadLike",
    "Call",
    "CircuitBreakerLike",
    "Service",
    "SimClock",
    "Simulation",
]

Result = tuple[Outcome, str]
"""What an attempt, a call or a request ends with: ``(outcome, reason)``; reason ``""`` when ok."""

Process = Generator[Any, Any, Result]


class CircuitBreakerLike(Protocol):
    """The sans-I/O breaker API the engine drives (``course_lib.breaker.CircuitBreaker``)."""

    def allow(self, now: float) -> bool: ...
    def record_success(self, now: float, duration: float = 0.0) -> None: ...
    def record_failure(self, now: float, duration: float = 0.0, error: str = "") -> None: ...


class BulkheadLike(Protocol):
    """The sans-I/O bulkhead API the engine drives (``course_lib.bulkhead.SemaphoreBulkhead``)."""

    def try_acquire(self) -> bool: ...
    def release(self) -> None: ...


class AttemptFailed(Exception):
    """A failed attempt, as the error a :class:`~course_lib.retry.RetryPolicy` is told of.

    Its message is the attempt's reason (``"timeout"``, ``"circuit_open"``, ...).
    """


class _NoWait:
    """The backoff of a :class:`Call` without one: retry at once."""

    def delay(self, attempt: int, rng: random.Random, previous: float | None = None) -> float:
        """Always 0 seconds."""
        return 0.0

    def bound(self, attempt: int) -> float:
        """Always 0 seconds."""
        return 0.0

    def __repr__(self) -> str:
        return "NoWait()"


class SimClock:
    """The :class:`~course_lib.clock.Clock` of a simulation: ``now()`` is SimPy's virtual time.

    Give it to a pattern (``CircuitBreaker(clock=sim.clock)``) and the pattern's
    cooldowns and windows run on virtual seconds.
    """

    __slots__ = ("_env",)

    def __init__(self, env: simpy.Environment) -> None:
        self._env = env

    def now(self) -> float:
        """Virtual seconds since the simulation started (``env.now``)."""
        return float(self._env.now)

    def __repr__(self) -> str:
        return f"SimClock(now={self.now():g})"


@dataclass(frozen=True, eq=False)
class Call:
    """One downstream call a route makes (or a client population makes), and its protection.

    Args:
        service: The callee's name.
        route: The callee's route.
        timeout: Seconds the caller waits for each attempt (> 0), or None to wait forever.
        breaker: A circuit breaker asked before every attempt and told every outcome.
        bulkhead: A semaphore bulkhead: an attempt needs one of its slots, else fails fast.
        retries: Extra attempts after a failed one (>= 0); ``1 + retries`` attempts at most.
        backoff: The wait before each retry (``delay(attempt, rng, previous)``);
            None retries at once.
        budget: A retry budget (``course_lib.budget``): told of every logical
            call (``record_request(now)``), asked before every retry
            (``try_spend(now)``); when it says no, the call gives up. One
            budget object on a :meth:`Simulation.clients` call is shared by the
            whole population, like a proxy's budget (Envoy's ``retry_budget``).

    An attempt first takes a bulkhead slot (none free: fails fast with reason
    ``"bulkhead_full"``), then asks the breaker (refused: ``"circuit_open"``,
    the slot is given back), then sends the request and waits at most
    ``timeout`` (``"timeout"``). The breaker is told every answered or
    timed-out attempt with its duration. Whether a failed attempt is retried,
    and after how long, is :class:`~course_lib.retry.RetryPolicy`'s decision
    (``attempts = 1 + retries``, this ``backoff`` and ``budget``), exactly as
    for a real function: no attempt left, or the budget says no, and the call
    gives up (:data:`~course_lib.retry.EXHAUSTED` / :data:`~course_lib.retry.BUDGET`).
    """

    service: str
    route: str = "/"
    timeout: float | None = None
    breaker: CircuitBreakerLike | None = None
    bulkhead: BulkheadLike | None = None
    retries: int = 0
    backoff: Backoff | None = None
    budget: RetryBudget | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.service, str) or not self.service:
            raise ValueError(f"service must be a non-empty service name, got {self.service!r}")
        if not isinstance(self.route, str) or not self.route:
            raise ValueError(f"route must be a non-empty route name, got {self.route!r}")
        if self.timeout is not None:
            check_number("timeout", self.timeout, min_inclusive=False)
        check_int("retries", self.retries)
        if self.breaker is not None and not callable(getattr(self.breaker, "allow", None)):
            raise ValueError(
                f"breaker must have allow(now), record_success and record_failure, "
                f"got {self.breaker!r}"
            )
        if self.bulkhead is not None and not callable(getattr(self.bulkhead, "try_acquire", None)):
            raise ValueError(
                f"bulkhead must have try_acquire() and release(), got {self.bulkhead!r}"
            )
        if self.backoff is not None and not callable(getattr(self.backoff, "delay", None)):
            raise ValueError(
                f"backoff must have delay(attempt, rng, previous), got {self.backoff!r}"
            )
        if self.budget is not None and not callable(getattr(self.budget, "try_spend", None)):
            raise ValueError(
                f"budget must have record_request(now) and try_spend(now), got {self.budget!r}"
            )

    @property
    def target(self) -> str:
        """``"service/route"`` with one slash, e.g. ``"orders/checkout"``."""
        return f"{self.service}/{self.route.lstrip('/')}"


class Service:
    """A service: a pool of ``workers``, its own latency and error rate, and routes.

    Create it with :meth:`Simulation.service`. Read what happened in :attr:`metrics`.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        workers: int,
        latency: Distribution,
        error_rate: float,
        routes: Mapping[str, Sequence[Call]],
        queue_limit: int | None,
        queue_timeout: float | None,
    ) -> None:
        self._sim = sim
        self.name = name
        self.workers = check_int("workers", workers, minimum=1)
        if not callable(getattr(latency, "sample", None)):
            raise ValueError(
                f"latency must be a distribution with sample(rng), e.g. Constant(0.01), "
                f"got {latency!r}"
            )
        self.latency = latency
        self.error_rate = check_fraction("error_rate", error_rate, allow_zero=True)
        self.queue_limit = None if queue_limit is None else check_int("queue_limit", queue_limit)
        self.queue_timeout = (
            None
            if queue_timeout is None
            else check_number("queue_timeout", queue_timeout, min_inclusive=False)
        )
        self.routes: dict[str, tuple[Call, ...]] = {}
        for route, calls in routes.items():
            self.route(route, *calls)
        self.metrics = ServiceMetrics(name, self.workers)
        self._pool = simpy.Resource(sim.env, capacity=self.workers)
        self._faults: list[Fault] = []
        self._down = 0
        self._hang: Any = None  # a simpy.Event while a Hang is active
        self._stalled = 0

    def route(self, name: str, *calls: Call) -> Service:
        """Add (or replace) route ``name``, which makes ``calls`` in order; returns the service."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"route name must be a non-empty string, got {name!r}")
        for call in calls:
            if not isinstance(call, Call):
                raise ValueError(f"route {name!r}: expected Call(...) objects, got {call!r}")
        self.routes[name] = tuple(calls)
        return self

    @property
    def in_flight(self) -> int:
        """Workers busy right now."""
        return int(self._pool.count)

    @property
    def queued(self) -> int:
        """Requests waiting right now: for a worker, or stalled by a hang before getting one."""
        return len(self._pool.queue) + self._stalled

    @property
    def active_faults(self) -> list[Fault]:
        """Faults in force right now."""
        return list(self._faults)

    # -- faults ----------------------------------------------------------------------------
    def _start_fault(self, fault: Fault) -> None:
        self._faults.append(fault)
        if isinstance(fault, Outage):
            self._down += 1
        elif isinstance(fault, Hang) and self._hang is None:
            self._hang = self._sim.env.event()

    def _end_fault(self, fault: Fault) -> bool:
        for i, active in enumerate(self._faults):
            if active is fault:
                del self._faults[i]
                break
        else:
            return False
        if isinstance(fault, Outage):
            self._down -= 1
        elif isinstance(fault, Hang) and not any(isinstance(f, Hang) for f in self._faults):
            gate, self._hang = self._hang, None
            gate.succeed(fault.on_end)
        return True

    # -- serving ---------------------------------------------------------------------------
    def _finish(self, route: str, outcome: Outcome, arrived: float, reason: str = "") -> Result:
        sim = self._sim
        latency = sim.env.now - arrived
        self.metrics.finish(route, outcome, latency, reason)
        if sim.record_requests:
            sim.trace(RequestFinished(sim.env.now, self.name, route, outcome, latency, reason))
        return outcome, reason

    def handle(self, route: str) -> Process:
        """Serve one request to ``route``: a SimPy process returning ``(outcome, reason)``."""
        sim = self._sim
        env = sim.env
        arrived = env.now
        self.metrics.arrive()
        if self._down:
            return self._finish(route, "rejected", arrived, "outage")
        if self._hang is not None:
            self._stalled += 1
            verdict = yield self._hang
            self._stalled -= 1
            if verdict == "fail":
                return self._finish(route, "failed", arrived, "hang")
        pool = self._pool
        if (
            self.queue_limit is not None
            and pool.count >= self.workers
            and len(pool.queue) >= self.queue_limit
        ):
            return self._finish(route, "rejected", arrived, "queue_full")
        request = pool.request()
        if request.triggered:
            pass  # a worker was free: it is ours already, no need to wait for the event
        elif self.queue_timeout is None:
            yield request
        else:
            yield request | env.timeout(self.queue_timeout)
            if not request.triggered:
                request.cancel()
                return self._finish(route, "timed_out", arrived, "queue_timeout")
        try:
            self.metrics.busy(pool.count)
            if self._hang is not None:  # the hang began while this request was queued
                verdict = yield self._hang
                if verdict == "fail":
                    return self._finish(route, "failed", arrived, "hang")
            work = self.latency.sample(sim.rng)
            error_rate = self.error_rate
            for fault in self._faults:
                work = fault.adjust_latency(work)
                error_rate = fault.adjust_error_rate(error_rate)
            if work > 0:
                yield env.timeout(work)
            if error_rate > 0 and sim.rng.random() < error_rate:
                return self._finish(route, "failed", arrived, "error")
            for call in self.routes[route]:
                outcome, reason = yield from sim._call(self.name, call)
                if outcome != "ok":
                    mine: Outcome = "timed_out" if reason == "timeout" else "failed"
                    return self._finish(route, mine, arrived, reason)
            return self._finish(route, "ok", arrived)
        finally:
            pool.release(request)

    def __repr__(self) -> str:
        return (
            f"Service({self.name!r}, workers={self.workers}, in_flight={self.in_flight}, "
            f"queued={self.queued})"
        )


class Simulation:
    """A seeded discrete-event simulation of services that fail.

    Args:
        seed: Seeds the one ``random.Random`` every draw comes from: same seed,
            same construction order => identical trace and numbers.
        sample_interval: Virtual seconds between metric samples (> 0).
        record_requests: Add a :class:`~course_lib.sim.events.RequestFinished`
            event per request (and retry/timeout events) to the trace. Turn it
            off for big runs (the retry storm): counters and time series are
            kept either way; fault events are always recorded.

    Attributes:
        env: The ``simpy.Environment`` (virtual time ``env.now``).
        rng: The seeded ``random.Random``.
        trace: Every event, oldest first; give it to patterns as their ``listener``.
        clock: A :class:`SimClock` for patterns (``CircuitBreaker(clock=sim.clock)``).
        services: Name -> :class:`Service`.
        edges: Call-edge label (``"gateway -> orders/checkout"``) -> :class:`CallMetrics`.
    """

    def __init__(
        self, seed: int = 0, *, sample_interval: float = 1.0, record_requests: bool = True
    ) -> None:
        check_int("seed", seed, minimum=-(2**63))
        self.seed = seed
        self.sample_interval = check_number("sample_interval", sample_interval, min_inclusive=False)
        self.record_requests = bool(record_requests)
        self.env = simpy.Environment()
        self.rng = random.Random(seed)
        self.trace = Trace()
        self.clock = SimClock(self.env)
        self.services: dict[str, Service] = {}
        self.edges: dict[str, CallMetrics] = {}
        self._edge_of: dict[tuple[str, int], CallMetrics] = {}
        self._policies: dict[int, RetryPolicy] = {}
        self._started = False
        self._last_sample = 0.0

    @property
    def now(self) -> float:
        """Virtual seconds elapsed."""
        return float(self.env.now)

    def emit(self, event: Event) -> None:
        """Add ``event`` to the trace."""
        self.trace(event)

    # -- building ----------------------------------------------------------------------------
    def service(
        self,
        name: str,
        *,
        workers: int,
        latency: Distribution,
        error_rate: float = 0.0,
        routes: Mapping[str, Sequence[Call]] | None = None,
        queue_limit: int | None = None,
        queue_timeout: float | None = None,
    ) -> Service:
        """Add a service and return it.

        Args:
            name: Unique service name.
            workers: Worker-pool size (>= 1): how many requests it serves at once.
            latency: The duration of its own work per request (a distribution).
            error_rate: Probability in [0, 1] that a request fails after its work.
            routes: Route name -> the downstream calls it makes, in order. Default:
                one route ``"/"`` that calls nothing.
            queue_limit: At most this many requests wait for a worker; more are
                rejected at once. None: unbounded.
            queue_timeout: A request that waited this long for a worker gives up
                (``timed_out``). None: waits forever.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if name in self.services:
            raise ValueError(f"a service named {name!r} already exists")
        svc = Service(
            self,
            name,
            workers=workers,
            latency=latency,
            error_rate=error_rate,
            routes={"/": ()} if routes is None else routes,
            queue_limit=queue_limit,
            queue_timeout=queue_timeout,
        )
        self.services[name] = svc
        return svc

    def metrics(self, service: str) -> ServiceMetrics:
        """The :class:`ServiceMetrics` of ``service``."""
        return self._service(service).metrics

    def edge(self, caller: str, call: Call) -> CallMetrics:
        """The :class:`CallMetrics` of the edge ``caller -> call`` (created on first use)."""
        key = (caller, id(call))
        stats = self._edge_of.get(key)
        if stats is None:
            label = f"{caller} -> {call.target}"
            stats = self.edges.get(label) or CallMetrics(label)
            self.edges[label] = self._edge_of[key] = stats
        return stats

    def _service(self, name: str) -> Service:
        svc = self.services.get(name)
        if svc is None:
            known = ", ".join(sorted(self.services)) or "none yet"
            raise ValueError(f"unknown service {name!r} (services: {known})")
        return svc

    def _check_route(self, service: str, route: str, where: str) -> Service:
        svc = self._service(service)
        if route not in svc.routes:
            raise ValueError(
                f"{where}: service {service!r} has no route {route!r} "
                f"(routes: {', '.join(sorted(svc.routes))})"
            )
        return svc

    def validate(self) -> None:
        """Check every call targets an existing service and route (``run`` calls this)."""
        for svc in self.services.values():
            for route, calls in svc.routes.items():
                for call in calls:
                    self._check_route(call.service, call.route, f"{svc.name}{route}")

    # -- faults ----------------------------------------------------------------------------
    def inject(self, *faults: Fault | Recovery) -> None:
        """Schedule faults (and recoveries) in virtual time."""
        for fault in faults:
            if isinstance(fault, Recovery):
                svc = self._service(fault.service)
                when = fault.at
            elif isinstance(fault, Fault):
                svc = self._service(fault.service)
                when = fault.start
            else:
                raise ValueError(
                    f"inject() takes faults such as LatencySpike(...) or "
                    f"Recovery(...), got {fault!r}"
                )
            if when < self.env.now:
                raise ValueError(f"{fault.describe()} is in the past (now t={self.now:g}s)")
            self.env.process(self._run_fault(fault, svc))

    def _run_fault(self, fault: Fault | Recovery, svc: Service) -> Generator[Any, Any, None]:
        env = self.env
        if isinstance(fault, Recovery):
            yield env.timeout(fault.at - env.now)
            for active in svc.active_faults:
                if svc._end_fault(active):
                    self.trace(FaultEnded(env.now, svc.name, active.name, "recovered"))
            return
        yield env.timeout(fault.start - env.now)
        svc._start_fault(fault)
        self.trace(FaultStarted(env.now, svc.name, fault.name, fault.describe()))
        if fault.duration is not None:
            yield env.timeout(fault.duration)
            if svc._end_fault(fault):
                self.trace(FaultEnded(env.now, svc.name, fault.name, "elapsed"))

    # -- load ------------------------------------------------------------------------------
    def send(self, service: str, route: str = "/", *, at: float | None = None) -> None:
        """One request to ``service`` ``route`` at virtual time ``at`` (default: now).

        Handy for small, exact lessons and tests; its outcome shows in the
        service's metrics and (with request recording) in the trace.
        """
        svc = self._check_route(service, route, "send")
        when = self.now if at is None else check_number("at", at, minimum=self.now)
        env = self.env

        def one() -> Generator[Any, Any, None]:
            if when > env.now:
                yield env.timeout(when - env.now)
            yield from svc.handle(route)

        env.process(one())

    def poisson(
        self,
        service: str,
        route: str,
        rate: float,
        *,
        start: float = 0.0,
        stop: float | None = None,
    ) -> None:
        """Open-loop arrivals: requests to ``service`` ``route`` at ``rate`` per second.

        Gaps are ``Exponential(1 / rate)`` (a Poisson process). Open loop: new
        requests keep coming however slow the service gets, like users on the
        internet. Outcomes are counted in the service's metrics.
        """
        svc = self._check_route(service, route, "poisson")
        rate = check_number("rate", rate, min_inclusive=False)
        check_number("start", start)
        if stop is not None:
            check_number("stop", stop, minimum=start)
        env = self.env
        rng = self.rng

        def arrivals() -> Generator[Any, Any, None]:
            if start > env.now:
                yield env.timeout(start - env.now)
            while True:
                yield env.timeout(rng.expovariate(rate))
                if stop is not None and env.now >= stop:
                    return
                env.process(svc.handle(route))

        env.process(arrivals())

    def clients(
        self,
        n: int,
        call: Call,
        *,
        think: Distribution,
        name: str = "clients",
        keep_times: bool = True,
    ) -> CallMetrics:
        """A closed-loop population: ``n`` clients, each thinks then calls, forever.

        Each client waits a ``think`` draw, makes ``call`` (with its retries and
        backoff), and only then thinks again: a client stuck waiting sends
        nothing new, unlike :meth:`poisson`. ``think`` must not be always 0.

        Returns:
            The population's :class:`CallMetrics` (``attempt_times`` and ``jobs``
            kept when ``keep_times``).
        """
        check_int("n", n, minimum=1)
        self._check_route(call.service, call.route, name)
        stats = CallMetrics(f"{name} -> {call.target}", keep_times=keep_times)
        self.edges[stats.label] = stats
        env = self.env
        rng = self.rng

        def client() -> Generator[Any, Any, None]:
            while True:
                yield env.timeout(think.sample(rng))
                yield from self._call(name, call, stats)

        for _ in range(n):
            env.process(client())
        return stats

    # -- calls -------------------------------------------------------------------------------
    def retry_policy(self, call: Call) -> RetryPolicy:
        """The :class:`~course_lib.retry.RetryPolicy` that decides ``call``'s retries.

        Built once per :class:`Call` from its ``retries``, ``backoff`` and
        ``budget``, drawing its jitter from the simulation's seeded ``rng``.
        """
        policy = self._policies.get(id(call))
        if policy is None:
            policy = RetryPolicy(
                attempts=1 + call.retries,
                backoff=_NoWait() if call.backoff is None else call.backoff,
                budget=call.budget,
                rng=self.rng,
            )
            self._policies[id(call)] = policy
        return policy

    def _call(self, caller: str, call: Call, stats: CallMetrics | None = None) -> Process:
        """Make ``call``, retrying as its policy decides; return the last ``(outcome, reason)``."""
        env = self.env
        if stats is None:
            stats = self.edge(caller, call)
        target = self.services[call.service]
        policy = self.retry_policy(call)
        stats.calls += 1
        started = env.now
        if stats.keep_times:
            stats.starts.append(started)
        policy.start(started)
        attempt = 0
        previous: float | None = None
        while True:
            attempt += 1
            outcome, reason = yield from self._attempt(caller, call, target, stats)
            if outcome == "ok":
                break
            decision = policy.decide(attempt, AttemptFailed(reason), previous=previous, now=env.now)
            if not decision.retry:
                if decision.reason == BUDGET:
                    stats.denied_retries += 1
                if call.retries and self.record_requests:
                    self.trace(RetryGaveUp(env.now, stats.label, attempt, reason, decision.reason))
                break
            previous = decision.delay
            stats.retries += 1
            if self.record_requests:
                self.trace(RetryScheduled(env.now, stats.label, attempt, decision.delay, reason))
            if decision.delay > 0:
                yield env.timeout(decision.delay)
        stats.outcomes[outcome] += 1
        if stats.keep_times:
            stats.jobs.append((started, env.now, outcome == "ok"))
        return outcome, reason

    def _attempt(self, caller: str, call: Call, target: Service, stats: CallMetrics) -> Process:
        env = self.env
        sent = env.now
        bulkhead = call.bulkhead
        if bulkhead is not None and not bulkhead.try_acquire():
            stats.reasons["bulkhead_full"] += 1
            return "failed", "bulkhead_full"
        breaker = call.breaker
        if breaker is not None and not breaker.allow(sent):
            if bulkhead is not None:
                bulkhead.release()
            stats.reasons["circuit_open"] += 1
            return "failed", "circuit_open"
        stats.attempts += 1
        if stats.keep_times:
            stats.attempt_times.append(sent)
        try:
            if call.timeout is None:
                outcome, reason = yield from target.handle(call.route)
                if outcome != "ok":
                    reason = f"{call.service}:{reason}"
            else:
                answer = env.process(target.handle(call.route))
                yield answer | env.timeout(call.timeout)
                if answer.triggered:
                    answered: Result = answer.value  # type: ignore[assignment]  # set when done
                    outcome, reason = answered
                    if outcome != "ok":
                        reason = f"{call.service}:{reason}"
                else:
                    outcome, reason = "timed_out", "timeout"
                    if self.record_requests:
                        self.trace(TimeoutExpired(env.now, caller, call.timeout, call.target))
        finally:
            if bulkhead is not None:
                bulkhead.release()
        if breaker is not None:
            if outcome == "ok":
                breaker.record_success(env.now, duration=env.now - sent)
            else:
                breaker.record_failure(env.now, duration=env.now - sent, error=reason)
        if outcome != "ok":
            stats.reasons[reason] += 1
        return outcome, reason

    # -- running -----------------------------------------------------------------------------
    def run(self, until: float) -> None:
        """Run until virtual time ``until`` (seconds); may be called again to continue."""
        check_number("until", until, minimum=self.now, min_inclusive=False)
        if not self._started:
            self.validate()
            self._started = True
            self.env.process(self._sampler())
        self.env.run(until=until)
        # SimPy stops *before* the events at ``until``: take a sample due then now, so a run
        # of 60 s with 1 s samples has 60 of them and the interval counts add up.
        ticks = until / self.sample_interval
        if abs(ticks - round(ticks)) < 1e-9:
            self._sample()

    def _sample(self) -> None:
        now = float(self.env.now)
        if now <= self._last_sample:
            return
        self._last_sample = now
        for svc in self.services.values():
            svc.metrics.sample(now, svc.in_flight, svc.queued)

    def _sampler(self) -> Generator[Any, Any, None]:
        env = self.env
        tick = 0
        while True:
            tick += 1  # absolute times k * interval: no drift from adding up floats
            yield env.timeout(max(0.0, tick * self.sample_interval - env.now))
            self._sample()

    def series(self, service: str, key: str) -> tuple[list[float], list[Any]]:
        """``(times, values)`` of one metric of one service, ready to plot."""
        series = self.metrics(service).series
        if key not in series:
            raise ValueError(f"unknown series {key!r}; choose from {', '.join(series)}")
        return list(series["time"]), list(series[key])

    def summary(self) -> dict[str, Any]:
        """Every service's and edge's numbers as plain dicts."""
        return {
            "seed": self.seed,
            "now": self.now,
            "services": {name: svc.metrics.to_dict() for name, svc in self.services.items()},
            "edges": {label: stats.to_dict() for label, stats in self.edges.items()},
        }

    def __repr__(self) -> str:
        return f"Simulation(seed={self.seed}, now={self.now:g}, services={list(self.services)})"
