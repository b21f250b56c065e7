package pgcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// debianBinGlob matches the per-version directories of Debian's and Ubuntu's
// postgresql packages, which do not put initdb or pg_ctl on PATH.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// requiredPrograms are the programs Start runs directly or through pg_ctl.
var requiredPrograms = []string{"initdb", "pg_ctl", "postgres"}

// BinDir returns the directory holding initdb and pg_ctl: the directory of
// pg_ctl on PATH (after symlinks) when initdb and postgres sit beside it, else the newest
// /usr/lib/postgresql/<version>/bin.
func BinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// A symlink on PATH (/usr/local/bin/pg_ctl) stands for the
		// installation it points into, which has the other programs
		// (pg_basebackup) too.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if dir := filepath.Dir(p); hasPrograms(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(debianBinGlob) // the pattern is constant and valid
	slices.SortFunc(dirs, func(a, b string) int {
		return slices.Compare(versionOf(b), versionOf(a)) // newest first
	})
	for _, dir := range dirs {
		if hasPrograms(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("find PostgreSQL programs: %s not found on PATH (%s) nor in %s; install them with `apt-get install postgresql`",
		strings.Join(requiredPrograms, ", "), os.Getenv("PATH"), debianBinGlob)
}

func hasPrograms(dir string) bool {
	for _, name := range requiredPrograms {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionOf extracts the version numbers from a path like
// /usr/lib/postgresql/9.6/bin; an unparsable part counts as 0.
func versionOf(binDir string) []int {
	parts := strings.Split(filepath.Base(filepath.Dir(binDir)), ".")
	nums := make([]int, len(parts))
	for i, p := range parts {
		nums[i], _ = strconv.Atoi(p)
	}
	return nums
}
