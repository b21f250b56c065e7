package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSystemdUnit checks deploy/auth-session.service with systemd's own
// tools: it verifies, its sandboxing scores as systemd-analyze security
// rates a well-locked service, and every variable of the example
// environment file is one that serve reads.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatalf("systemd-analyze is not installed (scripts/install-deps.sh installs systemd): %v", err)
	}
	unit, err := os.ReadFile("../deploy/auth-session.service")
	if err != nil {
		t.Fatal(err)
	}
	// The unit names the installed binary; verify checks that it exists.
	dir := t.TempDir()
	path := filepath.Join(dir, "auth-session.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/auth-session", binPath)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runIn(t, dir, exec.Command("systemd-analyze", "verify", "--man=no", path)); r.code != 0 || strings.TrimSpace(r.stderr) != "" {
		t.Errorf("systemd-analyze verify: %s", r)
	}
	r := runIn(t, dir, exec.Command("systemd-analyze", "security", "--offline=yes", path))
	m := regexp.MustCompile(`Overall exposure level for auth-session.service: ([0-9.]+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level: %s", r)
	}
	if level, _ := strconv.ParseFloat(m[1], 64); level > 2 {
		t.Errorf("exposure level %s; want at most 2 (systemd rates up to 2 as OK): %s", m[1], r.stdout)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])

	env, err := os.ReadFile("../deploy/auth-session.env")
	if err != nil {
		t.Fatal(err)
	}
	help := run(t, "serve", "--help").stdout
	for _, line := range strings.Split(string(env), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		name, _, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(name, "AUTH_SESSION_") {
			continue
		}
		if !strings.Contains(help, "$"+name+"]") && !strings.Contains(string(unit), "${"+name+"}") && !strings.Contains(string(unit), "$"+name) {
			t.Errorf("deploy/auth-session.env sets %s, which neither serve nor the unit reads", name)
		}
	}
}
