"""How many requests a client keeps in flight: a FIFO limiter, and a pacer that sets it.

The limiter halves on throttling (429) and grows back one step at a time. The pacer sets its
ceiling from what answers cost this process and how long they take to come.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Callable

DEFAULT_CONCURRENCY = 3  # kept unless the pacer finds it far off (see LoadPacer)
MIN_CONCURRENCY, MAX_CONCURRENCY = 2, 16
LOAD = 0.5  # the share of its time the client is kept busy by answers (see LoadPacer)
SPREAD = 0.8  # page requests are sent at least this share of round trip ÷ limit apart


class AdaptiveLimiter:
    """At most `limit` requests in flight; halved on throttling, regrown by one per `limit`
    successes in a row, between 1 and `maximum`.

    Waiters queue first come, first served and a freed slot wakes exactly one of them: a
    listing queues every page at once, and waking them all on each release would cost a
    wake-up per waiting page per answer.
    """

    def __init__(self, start: int = DEFAULT_CONCURRENCY, maximum: int | None = None):
        self.maximum = maximum or start
        self.limit = max(1, min(start, self.maximum))
        self.in_flight = 0
        self.throttles = 0
        self.lowest = self.limit
        self._streak = 0
        self._last_cut = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # the slot is counted as ours when we are woken (see _wake)
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # woken and cancelled at once: hand the slot on
                elif waiter in self._waiters:  # _wake may have dropped it already
                    self._waiters.remove(waiter)
                raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def throttled(self, _what: object = None) -> None:
        """Called on a 429: halve, at most once per half-second (one burst is one signal)."""
        self.throttles += 1
        now = time.monotonic()
        if now - self._last_cut > 0.5:
            self.limit = max(1, self.limit // 2)
            self.lowest = min(self.lowest, self.limit)
            self._last_cut = now
        self._streak = 0

    def succeeded(self) -> None:
        self._streak += 1
        if self._streak >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self._streak = 0
            self._wake()

    def retarget(self, maximum: int) -> None:
        """Set the ceiling. The limit follows it at once unless the server has throttled: then
        it grows back one step at a time (see succeeded), as after any 429."""
        self.maximum = max(1, maximum)
        if self.limit > self.maximum or not self.throttles:
            self.limit = self.maximum
            self._wake()


class LoadPacer:
    """Sets a limiter's ceiling by Little's law at half load: as many requests in flight as
    this process can take the answers of in half of one round trip (between 2 and 16). It also
    spaces page requests out over the round trip (see send_delay).

    A client kept busy all the time makes each answer wait for the ones before it, and every
    such wait also holds back that slot's next request: at half load answers are taken as they
    come. The round trip is the quickest one seen, the latency itself (slower ones include
    queueing, which more concurrency would only feed). The work per answer is this process's
    CPU time per answer (parsing, columns, HTTP, the event loop: everything an answer costs
    here; a practice tenant served in this process counts too, and holds the figure down),
    measured over every 4 answers; the median of those figures is used, so a one-off cost (a
    listing's frame being built) does not pass for the cost of every answer.

    The target is worked out twice, after 3 and after 12 of those measurements, and the
    ceiling moves to it only when it is at least twice or at most half the ceiling: every
    change costs a round of uneven sending, which a small step does not repay (measured: a
    fixed 3 beat every adaptive scheme tried on a 50 ms link). From the default of 3 it can
    only rise (on a link with a few times the latency); after a rise it can come back down.
    """

    WINDOW = 4  # answers per CPU measurement
    DECIDE_AT = (3, 12)  # measurements made

    def __init__(self, limiter: AdaptiveLimiter, *, adapt: bool = True, load: float = LOAD,
                 minimum: int = MIN_CONCURRENCY, maximum: int = MAX_CONCURRENCY,
                 cpu: Callable[[], float] = time.process_time,
                 clock: Callable[[], float] = time.perf_counter):
        self.limiter = limiter
        self.adapt = adapt  # False: the concurrency was given; only spread the requests
        self.cpu, self.clock = cpu, clock
        self.load = load
        self.minimum, self.maximum = minimum, maximum
        self.quickest = float("inf")
        self.work: list[float] = []  # CPU seconds per answer, one figure per window
        self._mark: tuple[float, int] | None = None  # (CPU time, answers) at a window's start
        self._answers = 0
        self._next_send = 0.0  # the clock's time before which no page request is sent

    def send_delay(self) -> float:
        """Seconds to wait before sending a page request, so that requests go out spread over
        the round trip rather than in bursts (as TCP pacing does).

        Requests sent together are answered together, and then each answer waits for the
        others to be served and read, at both ends; the next requests go out together again, so
        a burst keeps itself going. Spaced by a little less than an even share of the quickest
        round trip, requests in flight stay spread out, and the spacing never limits how many
        are sent per round trip. Measured at 3 in flight on a 50 ms link: round trips of
        54.6 ms instead of 58 at the median.
        """
        if self.quickest == float("inf"):
            return 0.0  # nothing to spread over yet
        now = self.clock()
        at = max(now, self._next_send)
        self._next_send = at + SPREAD * self.quickest / max(self.limiter.limit, 1)
        return at - now

    def observe(self, seconds: float) -> None:
        """One answer heard, `seconds` after its request was sent (retries only ever make that
        longer, and only the quickest counts)."""
        self._answers += 1
        self.quickest = min(self.quickest, seconds)
        cpu = self.cpu()
        if self._mark is None:  # what came before the first answer (connecting) is not per answer
            self._mark = (cpu, self._answers)
            return
        since, at = self._mark
        if self._answers - at < self.WINDOW:
            return
        self.work.append((cpu - since) / (self._answers - at))
        self._mark = (cpu, self._answers)
        if self.adapt and len(self.work) in self.DECIDE_AT:
            # As many as fit (rounded down), with a hair of slack for float error.
            fit = self.load * self.quickest / max(statistics.median(self.work), 1e-4)
            target = min(self.maximum, max(self.minimum, int(fit + 1e-9)))
            ceiling = self.limiter.maximum
            if target >= 2 * ceiling or 2 * target <= ceiling:
                self.limiter.retarget(target)
