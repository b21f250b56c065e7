package e2e

import (
	"bufio"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoAdminPage: the HTTP address demo prints answers at / with the
// admin page, and the account demo names for it signs in there.
func TestDemoAdminPage(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binPath, "demo")
	cmd.Env = commandEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck
		for range lines {
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("demo after Ctrl-C: %v; want exit 0", err)
			}
		case <-time.After(time.Minute):
			cmd.Process.Kill() //nolint:errcheck
			t.Errorf("demo did not stop within a minute of Ctrl-C")
		}
	}
	t.Cleanup(stop)

	var printed strings.Builder
	timeout := time.After(2 * time.Minute)
	for !strings.Contains(printed.String(), "Press Ctrl-C") {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited before it was up:\n%s", printed.String())
			}
			printed.WriteString(line + "\n")
		case <-timeout:
			t.Fatalf("demo not up in 2 minutes:\n%s", printed.String())
		}
	}
	out := printed.String()
	httpURL := regexp.MustCompile(`(?m)^  HTTP +(http://\S+)$`).FindStringSubmatch(out)
	admin := regexp.MustCompile(`(?m)^  (demo_admin) +password (\S+) +\(signs in to the admin page at (\S+)\)$`).FindStringSubmatch(out)
	if httpURL == nil || admin == nil {
		t.Fatalf("demo does not print its HTTP address and the account that signs in to the admin page:\n%s", out)
	}
	root := httpURL[1] + "/"
	if admin[3] != root {
		t.Errorf("admin page at %q; want the HTTP address %q", admin[3], root)
	}

	dir := t.TempDir()
	r := sh(t, dir, "curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "+root)
	if want := "302 " + httpURL[1] + "/admin/sessions"; r.stdout != want {
		t.Errorf("GET /: %q; want %q", r.stdout, want)
	}
	r = sh(t, dir, "curl -sSL "+root+curlStatus)
	wantStatus(t, "GET / following the redirect", r, 200)
	if !strings.Contains(r.stdout, "<html") {
		t.Errorf("GET / following the redirect is no page:\n%.300s", r.stdout)
	}
	r = sh(t, dir, "curl -c jar.txt -d username="+admin[1]+" -d password="+admin[2]+" "+httpURL[1]+"/api/v2/login/"+curlStatus)
	wantStatus(t, "API login as the account demo names", r, 200)
	r = sh(t, dir, "curl -b jar.txt "+httpURL[1]+"/api/v1/admin/sessions"+curlStatus)
	wantStatus(t, "the admin listing as that account", r, 200)
	stop()
}
