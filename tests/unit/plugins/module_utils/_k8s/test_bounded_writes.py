"""reconcile.run_bounded and execute: writes in flight at once stay within max_in_flight, start in
order, namespaces go before what goes into them, and a failure part way is reported exactly (what
was written, what failed, what was not tried, the first error). client.with_retries: 429 and 503
are sent again after Retry-After (or a backoff), a bounded number of times. Plain fakes of a
callable; no API."""

import threading
import time

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import client as client_module
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import reconcile
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError, retry_delay, with_retries


class Gauge:
    """Counts calls in flight; each call sleeps a little so that they overlap."""

    def __init__(self, fail=(), seconds=0.01):
        self.lock, self.now, self.peak, self.order, self.fail, self.seconds = threading.Lock(), 0, 0, [], set(fail), seconds

    def call(self, key):
        def run():
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
                self.order.append(key)
            time.sleep(self.seconds)
            with self.lock:
                self.now -= 1
            if key in self.fail:
                raise KubeError("PUT %s: 500 boom" % key, status=500)
            return key.upper()
        return run


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_at_most_max_in_flight_at_once_started_in_order(limit):
    gauge = Gauge()
    keys = ["k%02d" % i for i in range(30)]
    results = reconcile.run_bounded([(key, gauge.call(key)) for key in keys], limit)
    assert results == {key: key.upper() for key in keys}
    assert gauge.peak == limit
    assert gauge.order == keys


def test_a_failure_part_way_stops_new_writes_and_reports_exactly():
    gauge = Gauge(fail={"k05"})
    keys = ["k%02d" % i for i in range(40)]
    with pytest.raises(reconcile.PartialWrite) as caught:
        reconcile.run_bounded([(key, gauge.call(key)) for key in keys], 4)
    exc = caught.value
    assert [key for key, _error in exc.failed] == ["k05"] and str(exc.first_error) == "PUT k05: 500 boom"
    started = set(gauge.order)
    assert set(exc.written) == started - {"k05"}          # every started write but the failed one finished
    assert len(started) <= 6 + 4 and exc.not_tried == len(keys) - len(started) > 0
    assert "500 boom" in str(exc) and "%d not tried" % exc.not_tried in str(exc)


def test_one_by_one_a_failure_reports_the_writes_before_it():
    gauge = Gauge(fail={"b"}, seconds=0)
    with pytest.raises(reconcile.PartialWrite) as caught:
        reconcile.run_bounded([(key, gauge.call(key)) for key in "abcd"], 1)
    assert caught.value.written == ["a"] and caught.value.not_tried == 2 and gauge.order == ["a", "b"]


class Client:
    """A client whose writes are plain fakes: records the order of applies and deletes."""
    check_mode = False

    def __init__(self, fail=()):
        self.lock, self.sent, self.fail = threading.Lock(), [], set(fail)

    def _write(self, verb, kind, name):
        time.sleep(0.005)
        if name in self.fail:
            raise KubeError("%s %s: 409 conflict" % (verb, name), status=409)
        with self.lock:
            self.sent.append((verb, kind, name))

    def apply(self, obj):
        self._write("apply", obj["kind"], obj["metadata"]["name"])
        return dict(obj, stored=True)

    def delete(self, kind, name, namespace=None):
        self._write("delete", kind, name)


def changes(entries=6, namespaces=2, deletes=2):
    result = reconcile.Changes()
    result.create = [{"kind": "ServiceEntry", "metadata": {"name": "se%d" % i, "namespace": "ns%d" % (i % namespaces)}}
                     for i in range(entries)]
    result.create += [{"kind": "Namespace", "metadata": {"name": "ns%d" % i}} for i in range(namespaces)]
    result.delete = [{"kind": "ServiceEntry", "metadata": {"name": "old%d" % i, "namespace": "ns0"}} for i in range(deletes)]
    return result


def test_execute_writes_namespaces_before_anything_else_and_returns_what_was_stored():
    client = Client()
    stored = reconcile.execute(client, changes(), max_in_flight=4)
    kinds = [kind for _verb, kind, _name in client.sent]
    assert kinds[:2] == ["Namespace", "Namespace"] and "Namespace" not in kinds[2:] and len(kinds) == 10
    assert stored[("ServiceEntry", "ns1", "se1")]["stored"] and len(stored) == 8


def test_execute_reports_the_writes_of_the_run_before_a_failure_and_the_next_run_converges():
    done = [("replace", "ConfigMap", "istio-system", "meshops-vips")]
    client = Client(fail={"se3"})
    with pytest.raises(reconcile.PartialWrite) as caught:
        reconcile.execute(client, changes(), max_in_flight=2, done=done)
    exc = caught.value
    assert exc.written[0] == ("replace", "ConfigMap", "istio-system", "meshops-vips")
    assert {("apply", "Namespace", "", "ns0"), ("apply", "Namespace", "", "ns1")} <= set(exc.written)
    assert exc.partial["failed"] == {"apply ServiceEntry ns1/se3": "apply se3: 409 conflict"}
    assert "replace ConfigMap istio-system/meshops-vips" in exc.partial["written"]
    assert len(exc.written) - 1 + len(exc.failed) + exc.not_tried == 10
    # what a re-run sends: only what is still missing, and it all goes through
    written = {key[1:] for key in exc.written[1:]}
    rest = changes()
    rest.create = [obj for obj in rest.create if reconcile.object_key(obj) not in written]
    rest.delete = [obj for obj in rest.delete if reconcile.object_key(obj) not in written]
    client.fail = set()
    reconcile.execute(client, rest, max_in_flight=2)
    assert len(client.sent) == 10


def test_a_first_write_refused_with_nothing_written_is_raised_as_it_is():
    client = Client(fail={"ns0"})
    with pytest.raises(KubeError) as caught:
        reconcile.execute(client, changes(namespaces=1), max_in_flight=4)
    assert not isinstance(caught.value, reconcile.PartialWrite) and caught.value.status == 409


def test_check_mode_records_in_order_one_at_a_time():
    client = Client()
    client.check_mode = True
    reconcile.execute(client, changes(entries=12), max_in_flight=8)
    assert [name for _verb, _kind, name in client.sent][:14] == ["ns0", "ns1"] + ["se%d" % i for i in range(12)]


class Answer:
    def __init__(self, status, retry_after=None):
        self.status, self.headers = status, ({"Retry-After": retry_after} if retry_after is not None else {})


def test_429_and_503_are_sent_again_after_retry_after_or_a_backoff():
    answers = iter([Answer(429, "2"), Answer(503), Answer(429, "bogus"), Answer(200)])
    slept = []
    assert with_retries(lambda: next(answers), slept.append).status == 200
    assert slept == [2.0, 0.5, 1.0]


def test_retries_are_bounded_and_other_errors_are_not_retried():
    slept = []
    assert with_retries(lambda: Answer(429, "1"), slept.append).status == 429
    assert len(slept) == client_module.STATUS_RETRIES
    assert with_retries(lambda: Answer(500), slept.append).status == 500 and len(slept) == client_module.STATUS_RETRIES
    assert retry_delay(429, "3600", 1) == client_module.RETRY_AFTER_MAX
    assert retry_delay(409, "1", 1) is None and retry_delay(504, None, 1) == 0.25
