"""How fast the sandbox serves full pages, so benchmarks of the pipeline measure the pipeline.

Here and not in the sandbox: bench code lives in one package, and the sandbox stays a witness
that imports nothing of the pipeline (the pipeline may import it, not the other way round).
"""

from __future__ import annotations

import time

import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer

PAGE_LIMIT = 2000


def measure_pages_per_second(pages: int = 100) -> float:
    """Full 2000-item pages per second, unthrottled, over real HTTP with one keep-alive session.

    The account holds exactly `pages` full pages; each is fetched once and its body read.
    """
    config = SandboxConfig(trackings=pages * PAGE_LIMIT, seed=42, list_rate_per_s=None)
    with SandboxServer(config).running() as server, requests.Session() as session:
        session.headers["Trackingmore-Api-Key"] = config.api_keys[0]
        url = f"{server.base_url}/trackings/get"
        started = time.perf_counter()
        for page in range(1, pages + 1):
            response = session.get(url, params={"page": page, "limit": PAGE_LIMIT}, timeout=30)
            response.raise_for_status()
            if not response.content.endswith(b"]}}"):
                raise RuntimeError(f"page {page} is not a complete list envelope")
        return pages / (time.perf_counter() - started)


if __name__ == "__main__":
    print(f"{measure_pages_per_second():.1f} pages/s")
