// A cAdvisor exporter built from cAdvisor's own Go library, standing in for the image
// ghcr.io/google/cadvisor that deploy/stack.yml names (no registry here). cAdvisor's `cmd` module
// cannot be `go install`ed from the module proxy, so this is the part of its cmd/cadvisor.go and
// cmd/internal/http the stack uses: the same manager, the same Prometheus collectors on /metrics,
// /healthz, and the same flags (the library packages register most of them on the std flag set:
// --docker_only, --housekeeping_interval, --docker, ...). No web UI, REST API or storage drivers.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/google/cadvisor/lib/cache/memory"
	"github.com/google/cadvisor/lib/container"
	"github.com/google/cadvisor/lib/manager"
	"github.com/google/cadvisor/lib/metrics"
	info "github.com/google/cadvisor/lib/model"
	"github.com/google/cadvisor/lib/utils/sysfs"
	"github.com/google/cadvisor/lib/version"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	// Container providers: Docker (what --docker_only keeps) and systemd, as cAdvisor's binary
	// registers them; the raw cgroup provider is registered by the manager itself.
	_ "github.com/google/cadvisor/container/docker/install"
	_ "github.com/google/cadvisor/lib/container/systemd/install"
	// File-system plugins: without one for a mount's type cAdvisor reports no container_fs_*
	// series for it (ext4/xfs are "vfs"; overlay2 is Docker's storage driver).
	_ "github.com/google/cadvisor/lib/fs/btrfs/install"
	_ "github.com/google/cadvisor/lib/fs/nfs/install"
	_ "github.com/google/cadvisor/lib/fs/overlay/install"
	_ "github.com/google/cadvisor/lib/fs/tmpfs/install"
	_ "github.com/google/cadvisor/lib/fs/vfs/install"
)

var (
	listenIP = flag.String("listen_ip", "", "IP to listen on, defaults to all IPs")
	port     = flag.Int("port", 8080, "port to listen")

	storeContainerLabels       = flag.Bool("store_container_labels", true, "convert container labels and environment variables into labels on prometheus metrics for each container. If flag set to false, then only metrics exported are container name, first alias, and image name")
	whitelistedContainerLabels = flag.String("whitelisted_container_labels", "", "comma separated list of container labels to be converted to labels on prometheus metrics for each container. store_container_labels must be set to false for this to take effect.")

	// cAdvisor's defaults: what --disable_metrics replaces (MetricSet.Set starts from empty).
	ignoreMetrics = container.MetricSet{
		container.MemoryNumaMetrics:              {},
		container.NetworkTcpUsageMetrics:         {},
		container.NetworkUdpUsageMetrics:         {},
		container.NetworkAdvancedTcpUsageMetrics: {},
		container.ProcessSchedulerMetrics:        {},
		container.ProcessMetrics:                 {},
		container.HugetlbUsageMetrics:            {},
		container.ReferencedMemoryMetrics:        {},
		container.CPUTopologyMetrics:             {},
		container.ResctrlMetrics:                 {},
		container.CPUSetMetrics:                  {},
	}
)

// cAdvisor keeps stats this long in memory (its --storage_duration default); /metrics reads only
// the newest sample.
const storageDuration = 2 * time.Minute

func main() {
	flag.Var(&ignoreMetrics, "disable_metrics", "comma-separated list of `metrics` to be disabled. Options are "+container.AllMetrics.String()+".")
	klog.InitFlags(nil)
	_ = flag.Set("v", "2") // cAdvisor's binary logs at V(2) by default
	flag.Parse()
	defer klog.Flush()

	// The version the collectors report (cadvisor_version_info) is the library module's: the
	// release binary gets it from -ldflags, a `go build` here from the build info.
	if build, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range build.Deps {
			if dep.Path == "github.com/google/cadvisor" {
				version.Info["version"] = dep.Version
			}
		}
	}

	includedMetrics := container.AllMetrics.Difference(ignoreMetrics)
	klog.V(1).Infof("enabled metrics: %s", includedMetrics)

	// No raw cgroup or env whitelists, perf events or resctrl: the lists are [""] as cAdvisor's
	// empty flags split to (the raw factory reads element 0).
	none := []string{""}
	m, err := manager.New(memory.New(storageDuration, nil), sysfs.NewRealSysFs(), manager.HousekeepingConfigFlags,
		includedMetrics, none, none, "", 0)
	if err != nil {
		klog.Fatalf("Failed to create a manager: %v", err)
	}

	labels := metrics.DefaultContainerLabels
	if !*storeContainerLabels {
		labels = metrics.BaseContainerLabels(strings.Split(*whitelistedContainerLabels, ","))
	}
	machine := metrics.NewPrometheusMachineCollector(m, includedMetrics)
	goCollector := collectors.NewGoCollector()
	processCollector := collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	// As cAdvisor's handler: a registry per scrape, the newest sample of every container below "/".
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		opts := info.RequestOptions{IdType: info.TypeName, Count: 1, Recursive: true}
		reg := prometheus.NewRegistry()
		reg.MustRegister(metrics.NewPrometheusCollector(m, labels, includedMetrics, clock.RealClock{}, opts),
			machine, goCollector, processCollector)
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})

	if err := m.Start(); err != nil {
		klog.Fatalf("Failed to start manager: %v", err)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		if err := m.Stop(); err != nil {
			klog.Errorf("Failed to stop container manager: %v", err)
		}
		klog.Infof("Exiting given signal: %v", sig)
		os.Exit(0)
	}()

	addr := fmt.Sprintf("%s:%d", *listenIP, *port)
	klog.V(1).Infof("Starting cAdvisor version: %s on %s", version.Info["version"], addr)
	klog.Fatal(http.ListenAndServe(addr, mux))
}
