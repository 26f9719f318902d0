//go:build tools

// Package tools pins KEDA's HTTP add-on (its operator, the interceptor that holds requests while a
// Deployment scales up from zero, and the external scaler that reports the interceptor's queue to
// KEDA), built for the e2e cluster by e2e/cluster/keda-up.sh. v0.8.0 is the release the Go module
// proxy serves here.
package tools

import (
	_ "github.com/kedacore/http-add-on/interceptor"
	_ "github.com/kedacore/http-add-on/operator"
	_ "github.com/kedacore/http-add-on/scaler"
)
