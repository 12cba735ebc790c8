"""What a fresh kubeadm cluster has: cluster DNS in kube-system, and a node to run pods on.

The objects are applied with kubeadm's field manager and without the collection's label:
they belong to the cluster, not to meshops.multicluster.
"""

from __future__ import annotations

from string import Template

import yaml

KUBEADM_MANAGER = "kubeadm"

# kubeadm's default Corefile (cmd/kubeadm/app/phases/addons/dns/manifests.go), byte for byte.
KUBEADM_COREFILE = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""

_COMMON = Template("""
- apiVersion: v1
  kind: Node
  metadata:
    name: ${node}
    labels: {kubernetes.io/hostname: ${node}, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok,
             topology.kubernetes.io/region: ${region}, topology.kubernetes.io/zone: ${zone}}
    annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  status:
    allocatable: {cpu: "32", memory: 256Gi, pods: "250"}
    capacity: {cpu: "32", memory: 256Gi, pods: "250"}
- apiVersion: v1
  kind: Service
  metadata:
    name: kube-dns
    namespace: kube-system
    labels: {k8s-app: kube-dns, kubernetes.io/cluster-service: "true", kubernetes.io/name: CoreDNS}
    annotations: {prometheus.io/port: "9153", prometheus.io/scrape: "true"}
  spec:
    clusterIP: ${dns_ip}
    selector: {k8s-app: kube-dns}
    ports:
    - {name: dns, port: 53, protocol: UDP, targetPort: 53}
    - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
    - {name: metrics, port: 9153, protocol: TCP, targetPort: 9153}
""")

_COREDNS = Template("""
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: coredns, namespace: kube-system}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: "system:coredns"}
  rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: "system:coredns"}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
  subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: coredns, namespace: kube-system}
  data: {}
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: coredns
    namespace: kube-system
    labels: {k8s-app: kube-dns}
  spec:
    replicas: 2
    selector: {matchLabels: {k8s-app: kube-dns}}
    template:
      metadata: {labels: {k8s-app: kube-dns}}
      spec:
        serviceAccountName: coredns
        priorityClassName: system-cluster-critical
        containers:
        - name: coredns
          image: registry.k8s.io/coredns/coredns:${coredns_tag}
          args: ["-conf", "/etc/coredns/Corefile"]
          ports:
          - {containerPort: 53, name: dns, protocol: UDP}
          - {containerPort: 53, name: dns-tcp, protocol: TCP}
          - {containerPort: 9153, name: metrics, protocol: TCP}
          volumeMounts: [{name: config-volume, mountPath: /etc/coredns, readOnly: true}]
        volumes:
        - name: config-volume
          configMap: {name: coredns, items: [{key: Corefile, path: Corefile}]}
""")

_KUBE_DNS = Template("""
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: kube-dns, namespace: kube-system}
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: kube-dns
    namespace: kube-system
    labels: {addonmanager.kubernetes.io/mode: EnsureExists}
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: kube-dns
    namespace: kube-system
    labels: {k8s-app: kube-dns}
  spec:
    replicas: 2
    selector: {matchLabels: {k8s-app: kube-dns}}
    template:
      metadata: {labels: {k8s-app: kube-dns}}
      spec:
        serviceAccountName: kube-dns
        priorityClassName: system-cluster-critical
        containers:
        - name: kubedns
          image: registry.k8s.io/dns/k8s-dns-kube-dns:1.26.4
          args: ["--domain=cluster.local.", "--dns-port=10053", "--config-dir=/kube-dns-config"]
          volumeMounts: [{name: kube-dns-config, mountPath: /kube-dns-config}]
        - name: dnsmasq
          image: registry.k8s.io/dns/k8s-dns-dnsmasq-nanny:1.26.4
          args: ["-configDir=/etc/k8s/dns/dnsmasq-nanny", "--", "-k", "--cache-size=1000",
                 "--server=/cluster.local/127.0.0.1#10053"]
          volumeMounts: [{name: kube-dns-config, mountPath: /etc/k8s/dns/dnsmasq-nanny}]
        volumes:
        - name: kube-dns-config
          configMap: {name: kube-dns, optional: true}
""")


def seed_objects(flavour: str, node: str, dns_ip: str, coredns_tag: str, locality: str) -> list[dict]:
    region, zone = locality.split("/")
    objects = yaml.safe_load(_COMMON.substitute(node=node, dns_ip=dns_ip, region=region, zone=zone))
    if flavour == "coredns":
        objects += yaml.safe_load(_COREDNS.substitute(coredns_tag=coredns_tag))
        for obj in objects:
            if obj["kind"] == "ConfigMap":
                obj["data"] = {"Corefile": KUBEADM_COREFILE}
    else:
        objects += yaml.safe_load(_KUBE_DNS.substitute())
    return objects
