package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// debFiles are the files the Debian package installs, with their modes
// (every one is root's).
var debFiles = map[string]string{
	"/usr/bin/auth-session":                                  "-rwxr-xr-x",
	"/usr/share/man/man1/auth-session.1.gz":                  "-rw-r--r--",
	"/usr/share/bash-completion/completions/auth-session":    "-rw-r--r--",
	"/usr/share/zsh/vendor-completions/_auth-session":        "-rw-r--r--",
	"/usr/share/fish/vendor_completions.d/auth-session.fish": "-rw-r--r--",
	"/lib/systemd/system/auth-session.service":               "-rw-r--r--",
	"/etc/auth-session/auth-session.env":                     "-rw-r-----",
	"/usr/share/doc/auth-session/copyright":                  "-rw-r--r--",
	"/usr/share/doc/auth-session/changelog.gz":               "-rw-r--r--",
	"/usr/share/lintian/overrides/auth-session":              "-rw-r--r--",
}

// TestDebianPackage builds the package with make deb as a user would,
// checks what it holds and that a second build gives the same bytes, then
// installs it with apt-get install ./auth-session_*.deb, as the README
// says, into a root of its own: apt and dpkg keep their database there, so
// the machine's packages and /usr are left alone. It runs what it
// installed, then purges it.
func TestDebianPackage(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"make", "dpkg-deb", "dpkg", "apt-get", "man", "systemd-analyze"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: %v", tool, err)
		}
	}
	if os.Getuid() != 0 {
		t.Fatal("the package's files are root's: run the test as root")
	}
	deb := makeDeb(t, t.TempDir())
	name := filepath.Base(deb)

	// What it holds.
	contents := runIn(t, "", exec.Command("dpkg-deb", "--contents", deb))
	if contents.code != 0 {
		t.Fatalf("dpkg-deb --contents: %s", contents)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(contents.stdout), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb --contents printed %q", line)
		}
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s; want root/root", f[5], f[1])
		}
		listed[strings.TrimPrefix(f[5], ".")] = f[0]
	}
	for path, mode := range debFiles {
		if got, ok := listed[path]; !ok {
			t.Errorf("the package lacks %s:\n%s", path, contents.stdout)
		} else if got != mode {
			t.Errorf("%s has mode %s; want %s", path, got, mode)
		}
	}
	field := func(name string) string {
		r := runIn(t, "", exec.Command("dpkg-deb", "--field", deb, name))
		if r.code != 0 {
			t.Fatalf("dpkg-deb --field %s: %s", name, r)
		}
		return strings.TrimSpace(r.stdout)
	}
	version, arch := field("Version"), field("Architecture")
	hostArch := strings.TrimSpace(runIn(t, "", exec.Command("dpkg", "--print-architecture")).stdout)
	if field("Package") != "auth-session" || arch != hostArch || field("Depends") != "" {
		t.Errorf("control: Package %q, Architecture %q, Depends %q; want auth-session, %s, none (the binary is static)",
			field("Package"), arch, field("Depends"), hostArch)
	}
	if want := "auth-session_" + version + "_" + arch + ".deb"; name != want {
		t.Errorf("make deb wrote %s; want %s", name, want)
	}
	if conf := runIn(t, "", exec.Command("dpkg-deb", "--info", deb, "conffiles")); strings.TrimSpace(conf.stdout) != "/etc/auth-session/auth-session.env" {
		t.Errorf("conffiles: %s; want /etc/auth-session/auth-session.env", conf)
	}
	// The same checkout gives the same bytes (fixed times, root's files).
	again, err := os.ReadFile(makeDeb(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if first, err := os.ReadFile(deb); err != nil {
		t.Fatal(err)
	} else if !bytes.Equal(first, again) {
		t.Errorf("a second make deb of the same checkout gave other bytes (%d and %d)", len(first), len(again))
	}
	if _, err := exec.LookPath("lintian"); err == nil {
		if r := runIn(t, "", exec.Command("lintian", "--fail-on", "error,warning", deb)); r.code != 0 {
			t.Errorf("lintian: %s", r)
		}
	} else {
		t.Log("lintian is not installed: not run")
	}

	// Installed by apt-get, the way the README says, into root.
	root := aptRoot(t)
	install := exec.Command("apt-get", "install", "-y", "./"+name)
	install.Env = []string{"APT_CONFIG=" + filepath.Join(root, "etc/apt/apt.conf"), "DEBIAN_FRONTEND=noninteractive"}
	if r := runIn(t, filepath.Dir(deb), install); r.code != 0 {
		t.Fatalf("apt-get install ./%s: %s", name, r)
	}
	status := runIn(t, "", exec.Command("dpkg", "--root="+root, "--status", "auth-session"))
	if !strings.Contains(status.stdout, "Status: install ok installed") || !strings.Contains(status.stdout, "Conffiles:\n /etc/auth-session/auth-session.env ") {
		t.Errorf("dpkg --status after apt-get install: %s", status)
	}
	for path, mode := range debFiles {
		if fi, err := os.Stat(filepath.Join(root, path)); err != nil {
			t.Errorf("installed: %v", err)
		} else if fi.Mode().String() != mode {
			t.Errorf("installed %s has mode %s; want %s", path, fi.Mode(), mode)
		}
	}

	// The installed binary prints the package's version, in Go's spelling.
	wantVersion := "v" + strings.ReplaceAll(version, "~", "-")
	if m := regexp.MustCompile(`^(.*)[~+]git(\d{14})\.([0-9a-f]{12})`).FindStringSubmatch(version); m != nil {
		wantVersion = m[2] + "-" + m[3]
	}
	if r := runIn(t, "", exec.Command(filepath.Join(root, "usr/bin/auth-session"), "--version")); r.code != 0 || !strings.HasPrefix(r.stdout, "auth-session version v") || !strings.Contains(r.stdout, wantVersion) {
		t.Errorf("installed auth-session --version: %s; want a line with %s", r, wantVersion)
	}
	// man finds the page where the package put it, and groff renders it
	// without a warning.
	man := exec.Command("man", "--warnings", "-M", filepath.Join(root, "usr/share/man"), "-P", "cat", "auth-session")
	man.Env = []string{"MANWIDTH=80"}
	if r := runIn(t, "", man); r.code != 0 || r.stderr != "" || !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "NAME auth-session - create, list and revoke") {
		t.Errorf("man auth-session: %s", r)
	}
	bash := exec.Command("bash", "-c", `source "$1" && complete -p auth-session`, "bash", filepath.Join(root, "usr/share/bash-completion/completions/auth-session"))
	if r := runIn(t, "", bash); r.code != 0 || !strings.Contains(r.stdout, "auth-session") {
		t.Errorf("the installed bash completion does not complete auth-session: %s", r)
	}
	for path, want := range map[string]string{
		"usr/share/zsh/vendor-completions/_auth-session":        "#compdef auth-session\n",
		"usr/share/fish/vendor_completions.d/auth-session.fish": "complete -c auth-session ",
	} {
		if b, err := os.ReadFile(filepath.Join(root, path)); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("installed %s lacks %q (%v)", path, want, err)
		}
	}
	checkInstalledUnit(t, root)

	// Purged, it leaves nothing behind, the conffile included.
	if r := runIn(t, "", exec.Command("dpkg", "--root="+root, "--force-script-chrootless", "--log="+dpkgLog(root), "--purge", "auth-session")); r.code != 0 {
		t.Fatalf("dpkg --purge: %s", r)
	}
	for path := range debFiles {
		if _, err := os.Lstat(filepath.Join(root, path)); !os.IsNotExist(err) {
			t.Errorf("after the purge %s is still there (%v)", path, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/auth-session")); !os.IsNotExist(err) {
		t.Errorf("after the purge /etc/auth-session is still there (%v)", err)
	}
}

// makeDeb runs make deb with its output in dist and returns the package's
// path, which it prints last.
func makeDeb(t *testing.T, dist string) string {
	t.Helper()
	cmd := exec.Command("make", "-s", "deb", "DIST="+dist)
	// The package of this machine's architecture and the checkout's version,
	// whatever the caller's environment says.
	cmd.Env = []string{"GOARCH=", "DEB_VERSION="}
	// It builds the binary afresh (-trimpath), minutes on a busy machine.
	r := runInFor(t, "..", cmd, 10*time.Minute)
	if r.code != 0 {
		t.Fatalf("make deb: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	deb := lines[len(lines)-1]
	if filepath.Dir(deb) != dist || !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("make deb printed %q; want the path of a .deb in %s", r.stdout, dist)
	}
	return deb
}

// aptRoot returns an empty root for apt and dpkg: a dpkg database with no
// package, apt's directories and an apt.conf (APT_CONFIG) that points both
// there. apt reads no file of the machine's /etc/apt, and dpkg runs the
// maintainer scripts without a chroot (the root has no shell) with
// DPKG_ROOT set, which the scripts honour. dpkg still reads the machine's
// /etc/dpkg/dpkg.cfg.d, so the options also undo what it may set there: a
// path-exclude (Docker's slim images leave out /usr/share/man) and the log.
func aptRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/apt/lists/partial",
		"var/cache/apt/archives/partial", "var/log/apt", "etc/apt/apt.conf.d"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`Dir %q;
Dir::State::status %q;
DPkg::Options { "--root=%s"; "--force-script-chrootless"; "--path-include=*"; "--log=%s"; };
APT::Sandbox::User "root";
`, root+"/", filepath.Join(root, "var/lib/dpkg/status"), root, dpkgLog(root))
	for path, text := range map[string]string{"var/lib/dpkg/status": "", "etc/apt/apt.conf": conf} {
		if err := os.WriteFile(filepath.Join(root, path), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dpkgLog is the log of dpkg in root, instead of the machine's.
func dpkgLog(root string) string {
	return filepath.Join(root, "var/log/dpkg.log")
}

// checkInstalledUnit checks the installed systemd unit: it runs the
// installed binary and reads the installed environment file, and
// systemd-analyze verifies it (with the binary's path under root, which
// verify checks exists).
func checkInstalledUnit(t *testing.T, root string) {
	t.Helper()
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/auth-session.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nExecStart=/usr/bin/auth-session serve ", "\nEnvironmentFile=/etc/auth-session/auth-session.env\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the installed unit lacks %q:\n%s", strings.TrimSpace(want), unit)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "auth-session.service")
	text := strings.ReplaceAll(string(unit), "/usr/bin/auth-session", filepath.Join(root, "usr/bin/auth-session"))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runIn(t, dir, exec.Command("systemd-analyze", "verify", "--man=no", path)); r.code != 0 || strings.TrimSpace(r.stderr) != "" {
		t.Errorf("systemd-analyze verify of the installed unit: %s", r)
	}
}
