"""The one waiter: asks at once, again every interval, and stops when nothing is pending or time is up."""

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.waiter import wait


class Clock:
    def __init__(self):
        self.now, self.sleeps = 100.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_at_once_when_nothing_is_pending():
    clock = Clock()
    assert wait(lambda: [], 60, clock=clock, sleep=clock.sleep) == ([], 0.0) and clock.sleeps == []


def test_asks_again_until_nothing_is_pending():
    clock, answers = Clock(), [["a", "b"], ["b"], []]
    left, waited = wait(lambda: answers.pop(0), 60, interval=2, clock=clock, sleep=clock.sleep)
    assert (left, waited, clock.sleeps) == ([], 4.0, [2, 2])


def test_stops_at_the_timeout_with_what_is_still_pending():
    clock = Clock()
    left, waited = wait(lambda: {"ns": "Terminating"}, 5, interval=2, clock=clock, sleep=clock.sleep)
    assert (left, waited, clock.sleeps) == ({"ns": "Terminating"}, 5.0, [2, 2, 1])


def test_a_timeout_of_zero_asks_once():
    clock, calls = Clock(), []
    assert wait(lambda: calls.append(1) or ["x"], 0, clock=clock, sleep=clock.sleep) == (["x"], 0.0)
    assert calls == [1]
