// Command coredns is CoreDNS with only the plugins the e2e cluster's DNS needs:
// cluster names from the kubernetes plugin, a bind address, readiness, caching.
// No forward plugin: pods of the local cluster have no upstream to reach, so names
// outside the cluster's zones are refused instead of leaving the machine.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The plugins' order in the chain: CoreDNS's plugin.cfg order, cut down to those linked above.
var directives = []string{"bind", "ready", "errors", "log", "loadbalance", "cache", "kubernetes"}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
