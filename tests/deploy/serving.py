"""Running the production entry point (``bin/serve``) as a plain process.

The Docker image and docker-compose.yml run ``bin/serve``; these helpers run
the same script outside a container, with the virtualenv's Python first on
``PATH`` as the image's is, on a free loopback port.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.live import PYTHON, ROOT, ServerProcess, free_port

SERVE = ROOT / "bin" / "serve"
HEALTHCHECK = ROOT / "bin" / "healthcheck"


def production_env(env: dict[str, str], port: int) -> dict[str, str]:
    """``env`` plus what the container provides: PATH, HOST and PORT."""
    return {
        **env,
        "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }


def start_serve(
    tmp_dir: Path, env: dict[str, str], command: list[str] | None = None
) -> ServerProcess:
    """Start ``bin/serve`` (or ``command``, resolved in the repository root)."""
    port = free_port()
    argv = [
        str(ROOT / part) if part.startswith("bin/") else part
        for part in command or ["bin/serve"]
    ]
    server = ServerProcess(
        name="serve",
        command=argv,
        port=port,
        log_path=tmp_dir / f"serve-{port}.log",
        env=production_env(env, port),
        start_timeout=120.0,
    )
    return server.start()
