package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// Version, when set at build time (go build -ldflags "-X
// github.com/auth-session/auth-session/pkg/cli.Version=v1.2.3"), is the
// version printed; otherwise the module's version from the build info.
var Version = ""

// versionString is what --version prints after "auth-session version": the
// version, and the VCS revision and time that go build stamps in a git
// checkout, or why there is none (go run, a tree outside git).
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return versionOr("(unknown)") + " (no build information)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	v := versionOr(info.Main.Version)
	rev := settings["vcs.revision"]
	if rev == "" {
		return fmt.Sprintf("%s (no VCS revision: built by go run or outside a git checkout; %s)", v, info.GoVersion)
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	out := fmt.Sprintf("%s (revision %s", v, rev)
	if t := settings["vcs.time"]; t != "" {
		out += ", " + t
	}
	if settings["vcs.modified"] == "true" {
		out += ", with uncommitted changes"
	}
	return out + ", " + info.GoVersion + ")"
}

// versionOr returns Version when it was set at build time, else
// moduleVersion ("(devel)" for a build of a checkout).
func versionOr(moduleVersion string) string {
	if Version != "" {
		return Version
	}
	if moduleVersion == "" {
		return "(devel)"
	}
	return moduleVersion
}

// versionCommand prints what --version prints, for those who type the
// word as they would with go, docker or kubectl.
func versionCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, as --version does",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			fmt.Fprintf(env.IO.Out, "%s version %s\n", c.App.Name, c.App.Version)
			return nil
		},
	}
}
