// Command kstatus prints what kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status), the library Flux,
// kpt and cli-utils' apply use to decide that an object is reconciled, computes for one Kubernetes
// object: it reads the object as JSON on stdin and writes {"status": ..., "message": ...} on stdout,
// where status is InProgress, Current, Failed, Terminating, NotFound or Unknown.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Status     string      `json:"status"`
	Message    string      `json:"message"`
	Conditions []condition `json:"conditions"`
}

type condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	// Unstructured's own decoder keeps integers as int64, as the API server's client hands them over
	// (kstatus compares metadata.generation with status.observedGeneration as int64).
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return fmt.Errorf("reading the object: %w", err)
	}
	res, err := status.Compute(u)
	if err != nil {
		return fmt.Errorf("computing the status: %w", err)
	}
	r := result{Status: res.Status.String(), Message: res.Message, Conditions: []condition{}}
	for _, c := range res.Conditions {
		r.Conditions = append(r.Conditions, condition{
			Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message,
		})
	}
	return json.NewEncoder(out).Encode(r)
}
