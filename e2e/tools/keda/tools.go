//go:build tools

// Package tools pins KEDA's core (the operator, which scales a Deployment between zero and one
// replica, and its metrics adapter, which serves external metrics to the HPA), built for the e2e
// cluster by e2e/cluster/keda-up.sh.
package tools

import (
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/operator"
)
