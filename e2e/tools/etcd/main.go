// Command etcd is upstream etcd's server entry point, built at the version
// k8s.io/kubernetes itself pins, so the e2e cluster needs no downloaded binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
