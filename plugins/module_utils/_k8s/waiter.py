# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one way to wait for a cluster: ask again until nothing is pending or time is up.

Used for Deployments becoming Available, a gateway getting an address, a namespace finishing its
deletion and DNS answers settling. The clock and the sleep are parameters so that the logic is
tested without waiting.
"""

from __future__ import annotations

import time


def wait(pending, timeout, interval=2.0, clock=time.monotonic, sleep=time.sleep):
    """Call pending() until it returns nothing (an empty list, dict or None) or `timeout` seconds
    have passed; the first call is made at once, and a timeout of 0 asks once.

    Returns (what pending() returned last, seconds waited).
    """
    started = clock()
    while True:
        left = pending()
        waited = clock() - started
        if not left or waited >= timeout:
            return left, waited
        sleep(min(interval, timeout - waited))
