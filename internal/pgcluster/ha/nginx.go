package ha

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// StartNginx starts nginx (Debian's package) with httpConf, the server and
// upstream blocks an operator puts in /etc/nginx/conf.d, inside a main
// configuration of its own: in the foreground, with its pid, log and
// temporary files in a new directory. httpConf must listen on addr; it
// returns once nginx does.
func StartNginx(ctx context.Context, addr, httpConf string) (*WebProxy, error) {
	return startWebProxy(ctx, "nginx", addr, func(dir string) (map[string]string, []string, []string) {
		user := ""
		if os.Geteuid() == 0 {
			// Its workers would run as nobody, who cannot write the
			// temporary files into our directory.
			user = "user root;\n"
		}
		main := fmt.Sprintf(`%sworker_processes auto;
pid %[2]s/nginx.pid;
error_log %[2]s/nginx.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	# nginx closes a client's connection after 1,000 requests by default;
	# the benchmark's clients keep theirs, as browsers mostly do.
	keepalive_requests 1000000;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	include %[2]s/site.conf;
}
`, user, dir)
		files := map[string]string{"nginx.conf": main, "site.conf": httpConf}
		// -e: where to log before the configuration is read, which would
		// otherwise be /var/log/nginx.
		args := []string{"-e", filepath.Join(dir, "nginx.log"), "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;"}
		return files, nil, args
	})
}
