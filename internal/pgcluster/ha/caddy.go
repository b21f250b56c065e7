package ha

import (
	"context"
	"fmt"
	"path/filepath"
)

// StartCaddy starts Caddy (Debian's package) with siteBlocks, a Caddyfile's
// sites, behind global options of its own: no admin endpoint, no automatic
// HTTPS, and its home, configuration and data in a new directory, also as
// root. siteBlocks must listen on addr; it returns once Caddy does.
func StartCaddy(ctx context.Context, addr, siteBlocks string) (*WebProxy, error) {
	return startWebProxy(ctx, "caddy", addr, func(dir string) (map[string]string, []string, []string) {
		global := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tstorage file_system %s\n}\n\n",
			filepath.Join(dir, "data"))
		files := map[string]string{"Caddyfile": global + siteBlocks}
		env := []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "XDG_DATA_HOME=" + filepath.Join(dir, "data")}
		args := []string{"run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile"}
		return files, env, args
	})
}
