"""The rate limiter under saturation: never over the limit, and how much of it is used.

    .venv/bin/python benchmarks/limiter.py

32 threads ask for permits as fast as they can from SlidingWindowLimiter(N calls per
P seconds) for 10 windows. Reported: the most starts in any window of P seconds
(must be <= N) and the steady-state rate as a share of N/P (utilisation), measured
from the first start to the start that opens the last window.
"""

from __future__ import annotations

import threading

from bookgen.ratelimit import Permit, SlidingWindowLimiter

THREADS = 32
WINDOWS = 10


def max_in_window(starts: list[float], period: float) -> int:
    best, j = 0, 0
    for i, start in enumerate(starts):
        while start - starts[j] >= period:
            j += 1
        best = max(best, i - j + 1)
    return best


def run(calls: int, period: float) -> tuple[int, float]:
    starts: list[float] = []
    lock = threading.Lock()
    remaining = [calls * WINDOWS]

    def record(permit: Permit) -> None:
        with lock:
            starts.append(permit.started)

    limiter = SlidingWindowLimiter(calls, period, on_start=record)

    def worker() -> None:
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            limiter.acquire()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    # Starts 0 .. calls*(WINDOWS-1) span WINDOWS-1 windows of steady state.
    span = starts[calls * (WINDOWS - 1)] - starts[0]
    utilisation = (calls * (WINDOWS - 1) / span) / (calls / period)
    return max_in_window(starts, period), utilisation


def main() -> None:
    print("| N calls | P seconds | most starts in any P-second window | utilisation of N/P |")
    print("|---:|---:|---:|---:|")
    for calls, period in [(10, 0.5), (50, 1.0), (200, 2.0)]:
        worst, utilisation = run(calls, period)
        assert worst <= calls, (worst, calls)
        print(f"| {calls} | {period} | {worst} | {utilisation:.1%} |", flush=True)


if __name__ == "__main__":
    main()
