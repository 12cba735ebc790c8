from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import gateway_address, resolve_gateway
from tests.unit.fake_api import FakeApi, fake_client


def service(ingress=None, external_ips=None, node_port=None, type_="LoadBalancer"):
    ports = [{"name": "status-port", "port": 15021}, {"name": "tls", "port": 15443}]
    if node_port:
        ports[1]["nodePort"] = node_port
    return {"spec": {"type": type_, "ports": ports, "externalIPs": external_ips or []},
            "status": {"loadBalancer": {"ingress": ingress or []}}}


NODE = {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.5"},
                                 {"type": "ExternalIP", "address": "198.51.100.7"}]}}


def test_load_balancer_ip_comes_first():
    svc = service(ingress=[{"hostname": "gw.example.com"}, {"ip": "203.0.113.10"}])
    assert gateway_address(svc) == ("203.0.113.10", 15443, "load balancer IP")


def test_hostname_when_no_ip():
    assert gateway_address(service(ingress=[{"hostname": "gw.example.com"}]))[:2] == ("gw.example.com", 15443)


def test_service_external_ip():
    assert gateway_address(service(external_ips=["192.0.2.4"]))[:2] == ("192.0.2.4", 15443)


def test_node_external_ip_with_node_port():
    assert gateway_address(service(node_port=31443, type_="NodePort"), [NODE])[:2] == ("198.51.100.7", 31443)


def test_no_address():
    assert gateway_address(service(), [NODE]) is None
    assert gateway_address(service(node_port=31443), [{"status": {"addresses": []}}]) is None


def test_a_service_read_already_is_not_read_again():
    api = FakeApi({"/api/v1/namespaces/istio-system/services/istio-eastwestgateway":
                   service(ingress=[{"ip": "203.0.113.10"}])})
    client = fake_client(api)
    svc = client.get("Service", "istio-eastwestgateway", "istio-system")
    found, problem = resolve_gateway(client, "istio-system", "istio-eastwestgateway", service=svc)
    assert (found["address"], problem) == ("203.0.113.10", "")
    assert api.sent.count(("GET", "/api/v1/namespaces/istio-system/services/istio-eastwestgateway")) == 1
    assert resolve_gateway(client, "istio-system", "istio-eastwestgateway", service=None)[1].endswith("does not exist")
