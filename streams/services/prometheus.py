"""A real Prometheus (Debian's package) on 127.0.0.1, for alert-rule end-to-end tests."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from streams.services.process import ManagedService, ServiceError

DEFAULT_PORT = 9090


def prometheus_executable() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise ServiceError("prometheus not found: install it with `apt-get install -y prometheus`")
    return found


class PrometheusServer(ManagedService):
    """Prometheus with `config_file`, its TSDB under `data_dir`, answering on `url`."""

    name = "prometheus"
    start_timeout = 60.0
    stop_timeout = 20.0

    def __init__(
        self,
        config_file: Path | str,
        data_dir: Path | str,
        *,
        port: int = DEFAULT_PORT,
        extra_args: list[str] | None = None,
        bind_to_parent: bool = True,
    ) -> None:
        super().__init__(data_dir, bind_to_parent=bind_to_parent)
        self.config_file = Path(config_file).resolve()
        self.host = "127.0.0.1"
        self.port = port
        self.extra_args = list(extra_args or [])

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ports(self) -> list[int]:
        return [self.port]

    @property
    def process_marker(self) -> str:
        return f"--config.file={self.config_file}"

    def prepare(self) -> None:
        if not self.config_file.is_file():
            raise ServiceError(f"prometheus config {self.config_file} does not exist")

    def command(self) -> list[str]:
        return [
            prometheus_executable(),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--web.listen-address={self.address}",
            # POST /-/reload lets a test swap rules without a restart.
            "--web.enable-lifecycle",
            "--log.level=info",
            *self.extra_args,
        ]

    def probe(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def api(self, path: str, **params: str) -> Any:
        """GET `/api/v1/<path>` and return its `data` (ServiceError unless status is success)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5.0) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise ServiceError(f"prometheus /api/v1/{path} answered {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector."""
        return list(self.api("query", query=expr)["result"])

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing)."""
        return list(self.api("alerts")["alerts"])

    def reload(self) -> None:
        """Re-read the config and rule files."""
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10.0) as response:
            if response.status != 200:
                raise ServiceError(f"prometheus reload answered HTTP {response.status}")
