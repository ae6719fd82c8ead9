"""The cascade of the module's notes with timeouts only: do they free the workers?

:func:`timeout_cascade` builds the same topology and latency spike as
:func:`course_lib.sim.scenarios.cascade` (gateway -> orders -> payments, and
gateway -> catalog), protected by **timeouts alone**: no circuit breaker, no
bulkhead. A timeout bounds how long a caller's worker waits for a sick callee,
so the worker comes back; whether that is enough depends on the numbers (a 1 s
timeout on 20 requests a second still holds 20 workers).
"""

from __future__ import annotations

from course_lib.sim.distributions import Constant, Exponential
from course_lib.sim.engine import Call, Simulation
from course_lib.sim.faults import LatencySpike
from course_lib.sim.scenarios import CATALOG, GATEWAY, ORDERS, PAYMENTS, CascadeResult

__all__ = ["timeout_cascade"]


def timeout_cascade(
    gateway_timeout: float | None,
    orders_timeout: float | None,
    seed: int = 0,
    *,
    duration: float = 60.0,
    spike_start: float = 20.0,
    spike_duration: float = 20.0,
    spike_latency: float = 2.0,
    checkout_rate: float = 20.0,
    catalog_rate: float = 50.0,
    sample_interval: float = 0.5,
) -> CascadeResult:
    """Run the cascade with the given timeouts and nothing else.

    Args:
        gateway_timeout: Seconds the gateway waits for orders and for catalog
            (``None``: forever).
        orders_timeout: Seconds orders waits for payments (``None``: forever).
        seed: Seeds the simulation.
        duration: Virtual seconds to run.
        spike_start: When payments' latency spike begins.
        spike_duration: How long it lasts.
        spike_latency: Seconds added to every payments request during the spike.
        checkout_rate: ``/checkout`` arrivals per second (Poisson).
        catalog_rate: ``/catalog`` arrivals per second (Poisson).
        sample_interval: Seconds between metric samples.

    Returns:
        A :class:`~course_lib.sim.scenarios.CascadeResult` (``protected`` is True
        when any timeout is set).
    """
    sim = Simulation(seed, sample_interval=sample_interval)
    to_orders = Call(ORDERS, "/checkout", timeout=gateway_timeout)
    to_payments = Call(PAYMENTS, "/pay", timeout=orders_timeout)
    to_catalog = Call(CATALOG, "/products", timeout=gateway_timeout)
    sim.service(PAYMENTS, workers=10, latency=Exponential(0.02), routes={"/pay": []})
    sim.service(CATALOG, workers=10, latency=Exponential(0.01), routes={"/products": []})
    sim.service(ORDERS, workers=10, latency=Constant(0.01), routes={"/checkout": [to_payments]})
    sim.service(
        GATEWAY,
        workers=20,
        latency=Constant(0.005),
        queue_limit=50,
        queue_timeout=1.0,
        routes={"/checkout": [to_orders], "/catalog": [to_catalog]},
    )
    sim.poisson(GATEWAY, "/checkout", checkout_rate)
    sim.poisson(GATEWAY, "/catalog", catalog_rate)
    sim.inject(LatencySpike(PAYMENTS, spike_start, spike_duration, extra_latency=spike_latency))
    sim.run(until=duration)
    protected = gateway_timeout is not None or orders_timeout is not None
    return CascadeResult(protected, seed, spike_start, spike_start + spike_duration, duration, sim)
