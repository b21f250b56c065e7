package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/demoha"
)

// TestDemoHA runs `make demo-ha`'s story, so that it keeps working.
func TestDemoHA(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out strings.Builder
	if err := demoha.Run(ctx, &out, binPath); err != nil {
		t.Fatalf("demo-ha: %v\n%s", err, out.String())
	}
	for _, want := range []string{"node2 primary", "whoami through the balancer: 200", "HTTP 401", "The story went as expected"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo-ha printed no %q:\n%s", want, out.String())
		}
	}
}
