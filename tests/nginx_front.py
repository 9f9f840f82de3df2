"""nginx in front of cluster nodes, as the README's "Several nodes" shows it: WebSocket
upgrades, long timeouts, the next node tried when one cannot be reached. Debian's
nginx-light (`.ci/run` installs it)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path


def start_nginx(work: Path, port: int, upstream: str, host_header: str = "$host") -> subprocess.Popen[bytes]:
    """nginx on 127.0.0.1:`port` with `upstream` (the lines inside `upstream parlor { … }`)."""
    conf = work / "nginx.conf"
    temp = " ".join(f"{kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf.write_text(f"""
daemon off;
pid {work / "nginx.pid"};
error_log {work / "nginx-error.log"};
events {{}}
http {{
  access_log off;
  {temp}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream parlor {{
{upstream}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://parlor;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host {host_header};
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 1h;
      proxy_next_upstream error timeout http_502;
    }}
  }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is not installed (Debian package nginx-light; .ci/run installs it)"
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        assert proc.poll() is None, (work / "nginx-error.log").read_text()
        assert time.monotonic() < deadline, "nginx did not start"
        time.sleep(0.05)
    return proc
