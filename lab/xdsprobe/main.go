// Command xdsprobe connects to an istiod as one proxy (a sidecar in a namespace, or a gateway) and
// prints, as one JSON document, the listeners, clusters, endpoints and routes istiod sends it:
// what an Envoy in that place would be told. It is the lab's window on what real Istio makes of
// the configuration the collection writes; tests read its output.
//
// Built by the lab (python -m lab build) against the same istio.io/istio module as the lab's istiod.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	pstruct "google.golang.org/protobuf/types/known/structpb"

	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/adsc"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/util/protomarshal"
)

type options struct {
	addr, nodeType, namespace, workload, ip, cluster, network, meshID, labels, locality, out string
	timeout, settle                                                                          time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "", "istiod's plain-text xDS address (host:15010)")
	flag.StringVar(&o.nodeType, "type", "sidecar", "proxy type: sidecar or router (a gateway)")
	flag.StringVar(&o.namespace, "namespace", "default", "namespace of the proxy's pod")
	flag.StringVar(&o.workload, "workload", "xdsprobe", "name of the proxy's pod")
	flag.StringVar(&o.ip, "ip", "127.0.0.77", "the proxy's pod IP")
	flag.StringVar(&o.cluster, "cluster", "", "CLUSTER_ID of the proxy (the cluster it runs in)")
	flag.StringVar(&o.network, "network", "", "Istio network of the proxy")
	flag.StringVar(&o.meshID, "mesh-id", "", "mesh ID")
	flag.StringVar(&o.labels, "labels", "", "pod labels, k=v,k=v (a gateway's selector labels)")
	flag.StringVar(&o.locality, "locality", "", "locality region/zone/subzone")
	flag.StringVar(&o.out, "out", "-", "where to write the JSON document (- for stdout)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for the first complete configuration")
	flag.DurationVar(&o.settle, "settle", time.Second, "quiet time after the last update before printing")
	flag.Parse()
	// Istio's logger writes to stdout by default; stdout is the JSON document.
	logging := log.DefaultOptions()
	logging.OutputPaths, logging.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	logging.SetDefaultOutputLevel("adsc", log.WarnLevel)
	if err := log.Configure(logging); err != nil {
		fmt.Fprintf(os.Stderr, "xdsprobe: %v\n", err)
		os.Exit(1)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "xdsprobe: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.addr == "" {
		return fmt.Errorf("-addr is required (istiod's xDS address, host:15010)")
	}
	nodeType := model.NodeType(o.nodeType)
	if nodeType != model.SidecarProxy && nodeType != model.Router {
		return fmt.Errorf("-type %q: expected sidecar or router", o.nodeType)
	}
	meta, err := nodeMetadata(o)
	if err != nil {
		return err
	}
	client, err := adsc.New(o.addr, &adsc.ADSConfig{
		Config: adsc.Config{
			ClientName: "xdsprobe", Namespace: o.namespace, Workload: o.workload, NodeType: nodeType,
			IP: o.ip, Meta: meta, Locality: locality(o.locality),
		},
		// Clusters and listeners first, as Envoy asks; the client asks for endpoints and routes itself.
		InitialDiscoveryRequests: []*discovery.DiscoveryRequest{{TypeUrl: v3.ClusterType}, {TypeUrl: v3.ListenerType}},
	})
	if err != nil {
		return fmt.Errorf("connecting to %s: %v", o.addr, err)
	}
	defer client.Close()
	if err := client.Run(); err != nil {
		return fmt.Errorf("opening the ADS stream to %s: %v", o.addr, err)
	}
	if err := waitComplete(client, o.timeout, o.settle); err != nil {
		return err
	}
	return write(o.out, snapshot(client))
}

func nodeMetadata(o options) (*pstruct.Struct, error) {
	labels := map[string]any{}
	for _, pair := range strings.Split(o.labels, ",") {
		if pair == "" {
			continue
		}
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("-labels %q: expected k=v pairs separated by commas", o.labels)
		}
		labels[key] = value
	}
	fields := map[string]any{
		"NAMESPACE": o.namespace, "WORKLOAD_NAME": o.workload, "NAME": o.workload, "LABELS": labels,
		"INSTANCE_IPS": o.ip, "INTERCEPTION_MODE": "REDIRECT", "SERVICE_ACCOUNT": "default",
	}
	for key, value := range map[string]string{"CLUSTER_ID": o.cluster, "NETWORK": o.network, "MESH_ID": o.meshID} {
		if value != "" {
			fields[key] = value
		}
	}
	if o.nodeType == string(model.Router) && o.network != "" {
		// What the east-west gateway chart sets (ISTIO_META_REQUESTED_NETWORK_VIEW).
		fields["REQUESTED_NETWORK_VIEW"] = o.network
	}
	return pstruct.NewStruct(fields)
}

func locality(value string) *core.Locality {
	if value == "" {
		return nil
	}
	parts := append(strings.SplitN(value, "/", 3), "", "")
	return &core.Locality{Region: parts[0], Zone: parts[1], SubZone: parts[2]}
}

// waitComplete returns once clusters and listeners arrived, and endpoints and routes when some
// cluster or listener needs them, with no update for `settle`.
func waitComplete(client *adsc.ADSC, timeout, settle time.Duration) error {
	deadline := time.Now().Add(timeout)
	got := map[string]bool{}
	for {
		complete := got[v3.ClusterType] && got[v3.ListenerType] &&
			(len(client.GetEdsClusters()) == 0 || got[v3.EndpointType]) &&
			(len(client.GetHTTPListeners()) == 0 || got[v3.RouteType])
		wait := time.Until(deadline)
		if complete {
			wait = settle
		}
		if wait <= 0 {
			return fmt.Errorf("no complete configuration after %s (received: %v)", timeout, keys(got))
		}
		updates, err := client.Wait(wait)
		if err != nil && !strings.HasPrefix(err.Error(), "timeout") {
			return fmt.Errorf("the ADS stream closed: %v", err)
		}
		if len(updates) == 0 && complete {
			return nil
		}
		for _, u := range updates {
			got[u] = true
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k[strings.LastIndex(k, ".")+1:])
	}
	sort.Strings(out)
	return out
}

// snapshot is what the proxy holds, each resource in Envoy's own JSON form, sorted by name.
func snapshot(client *adsc.ADSC) map[string][]json.RawMessage {
	out := map[string][]json.RawMessage{}
	addAll(out, "clusters", client.GetClusters())
	addAll(out, "clusters", client.GetEdsClusters())
	addAll(out, "endpoints", client.GetEndpoints())
	addAll(out, "listeners", client.GetTCPListeners())
	addAll(out, "listeners", client.GetHTTPListeners())
	addAll(out, "routes", client.GetRoutes())
	return out
}

func addAll[M proto.Message](out map[string][]json.RawMessage, kind string, resources map[string]M) {
	for _, name := range sortedKeys(resources) {
		text, err := protomarshal.ToJSON(resources[name])
		if err != nil {
			text = fmt.Sprintf(`{"name": %q, "marshal_error": %q}`, name, err.Error())
		}
		out[kind] = append(out[kind], json.RawMessage(text))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func write(path string, doc map[string][]json.RawMessage) error {
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if path == "-" {
		_, err = os.Stdout.Write(append(data, '\n'))
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
