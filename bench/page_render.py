"""Median time to serve the home page and the dashboard through the app (no network).

Run: .venv/bin/python bench/page_render.py [N]. Uses a throwaway SQLite database and the
Redis at REDIS_URL. Prints `page_render_ms=<median of both pages>` on its last line.
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade

from app import create_app
from app.auth import services as accounts


def timed(client, path: str, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db", "SECRET_KEY": "bench",
                          "SOCKETIO_USE_QUEUE": False, "SOCKETIO_ASYNC_MODE": "threading",
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        with app.app_context():
            upgrade()
            accounts.create_account("bench", "bench@example.com", "bench passphrase 1", None, check_age=False)
        client = app.test_client()
        client.post("/login", data={"login": "bench", "password": "bench passphrase 1"})
        home = timed(client, "/", n)
        dashboard = timed(client, "/dashboard", n)
        print(f"home_ms={home:.2f}")
        print(f"dashboard_ms={dashboard:.2f}")
        print(f"page_render_ms={statistics.median([home, dashboard]):.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
