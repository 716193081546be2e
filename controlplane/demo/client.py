"""A small HTTP client for the public API, as an external system would write it.

Every POST carries an ``Idempotency-Key``; a request that fails on the wire (connection reset,
502/503/504, 429) is sent again with the same key, so the server answers the first result
instead of doing the work twice. Nothing here imports Django.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

RETRY_STATUSES = (429, 502, 503, 504)


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class ApiClient:
    """Bearer-token client of ``base_url`` (``http://host:port``); one HTTP session per thread."""

    base_url: str
    token: str
    timeout: float = 60.0
    attempts: int = 6
    calls: int = 0
    seconds: float = 0.0
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"Authorization": f"Bearer {self.token}", "Accept": "application/json"})
            self._local.session = session
        return session

    def request(self, method: str, path: str, *, json: Any = None, files: dict | None = None,
                params: dict | None = None) -> Answer:
        """One API call (retried on the wire with the same idempotency key); never raises for
        an HTTP status, only when every attempt failed to connect."""
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        url = f"{self.base_url}/api/v1/{path.lstrip('/')}"
        last: Exception | None = None
        for attempt in range(self.attempts):
            with self._lock:
                self.calls += 1
            began = time.perf_counter()
            try:
                resp = self._session().request(method, url, json=json, files=files, params=params,
                                               headers=headers, timeout=self.timeout)
            except requests.ConnectionError as exc:
                last = exc
                time.sleep(0.2 * 2 ** attempt)
                continue
            with self._lock:
                self.seconds += time.perf_counter() - began
            if resp.status_code in RETRY_STATUSES and attempt < self.attempts - 1:
                time.sleep(float(resp.headers.get("Retry-After") or 0) or 0.2 * 2 ** attempt)
                continue
            try:
                body = resp.json() if resp.content else None
            except ValueError:
                body = resp.text
            return Answer(resp.status_code, body)
        raise ConnectionError(f"{method} {url}: no answer after {self.attempts} attempts ({last})")

    def get(self, path: str, **params: Any) -> Answer:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, payload: Any = None, **kwargs: Any) -> Answer:
        return self.request("POST", path, json=payload, **kwargs)

    def patch(self, path: str, payload: Any) -> Answer:
        return self.request("PATCH", path, json=payload)
