"""A local fake of Serper and of an OpenAI-compatible chat API, speaking their real wire
formats (the Python twin of `examples/fake-providers`), and fixtures around it."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional

import pytest

import outreach

OPENER = (
    "Saw this about {company}: {company} raised a $30M Series B to expand into North America "
    "and double its sales team. Keeping every first line grounded in research could help your "
    "team book more qualified meetings."
)
TIE = "Keeping every first line grounded in research could help your team book more qualified meetings."


def _capitalise(s: str) -> str:
    return s[:1].upper() + s[1:]


def person_name(user: str) -> str:
    parts = [p for p in user.replace("_", ".").replace("-", ".").split(".") if p]
    return " ".join(_capitalise(p) for p in parts)


def company_name(domain: str) -> str:
    base = domain.split(".")[0]
    return " ".join(_capitalise(p) for p in base.split("-"))


def _read_query(q: str) -> Dict[str, Optional[str]]:
    """The query as the pipeline builds it (see `read_query` in examples/fake-providers)."""
    words = q.split()
    if len(words) == 1 and "@" in words[0]:
        user, _, domain = words[0].partition("@")
        return {"user": user, "name": person_name(user), "domain": domain}
    if len(words) == 1 and "." in words[0]:
        return {"user": None, "name": None, "domain": words[0]}
    domain_at = max((i for i, w in enumerate(words) if "." in w and "@" not in w), default=-1)
    if domain_at > 0:
        user = " ".join(words[:domain_at]).lower().replace(" ", ".")
        return {"user": user, "name": person_name(user), "domain": words[domain_at]}
    if len(words) >= 3:
        company = " ".join(words[2:])
        return {
            "user": f"{words[0]}.{words[1]}".lower(),
            "name": f"{words[0]} {words[1]}",
            "domain": company.lower().replace(" ", "-") + ".com",
        }
    company = " ".join(words) or "example"
    return {"user": None, "name": None, "domain": company.lower().replace(" ", "-") + ".com"}


def serper_answer(q: str) -> Dict[str, Any]:
    """A Serper `/search` response (the shape of `outreach-core/tests/providers_serper.rs`)."""
    read = _read_query(q)
    domain = read["domain"] or "example.com"
    company = company_name(domain)
    user, person = read["user"], read["name"]
    if user is not None and person is not None:
        slug = user.replace(".", "-")
        return {
            "searchParameters": {"q": q, "type": "search", "engine": "google"},
            "organic": [
                {
                    "title": f"{person} - {company} | LinkedIn",
                    "link": f"https://www.linkedin.com/in/{slug}",
                    "snippet": f"{person} leads revenue at {company}. Previously scaled sales teams at two SaaS startups.",
                    "position": 1,
                },
                {
                    "title": f"{person} on building pipeline",
                    "link": f"https://blog.{domain}/{slug}",
                    "snippet": f"{person} writes about outbound, hiring SDRs and keeping reply rates up while growing.",
                    "position": 2,
                },
            ],
        }
    return {
        "searchParameters": {"q": q, "type": "search", "engine": "google"},
        "knowledgeGraph": {
            "title": company,
            "type": "Company",
            "description": f"{company} builds software for mid-market operations teams.",
            "website": f"https://{domain}",
            "attributes": {"Founded": "2016", "Headquarters": "Berlin"},
        },
        "organic": [
            {
                "title": f"{company} raises Series B",
                "link": f"https://news.example.com/{domain}-series-b",
                "snippet": f"{company} raised a $30M Series B to expand into North America and double its sales team.",
                "position": 1,
            },
            {
                "title": f"About {company}",
                "link": f"https://{domain}/about",
                "snippet": f"{company} serves 2,000 customers with a platform known for fast onboarding.",
                "position": 2,
            },
        ],
    }


def _row_value(user: str, label: str) -> Optional[str]:
    for line in user.splitlines():
        if line.startswith(label + ": "):
            return line[len(label) + 2 :]
    return None


def research_from_findings(user: str) -> Dict[str, Any]:
    """What a plain extraction model returns: each finding's first sentence as a fact,
    quoted verbatim from the finding, with its URL."""
    email = _row_value(user, "Email") or "someone@example.com"
    local, _, domain = email.partition("@")
    person_info: List[str] = []
    company_info: List[str] = []
    evidence: List[Dict[str, str]] = []
    moat = "unknown"
    person_section = False
    for line in user.splitlines():
        if line.startswith("Person search"):
            person_section = True
        elif line.startswith("Company search"):
            person_section = False
        if not line.startswith("- ") or line.startswith("- Knowledge panel") or " [" not in line:
            continue
        body, _, link = line[2:].rpartition(" [")
        _title, sep, snippet = body.partition(" \u2014 ")
        if not sep:
            continue
        sentence = snippet.split(". ")[0].rstrip(".")
        evidence.append({"fact": sentence, "url": link.rstrip("]"), "quote": sentence})
        if person_section:
            person_info.append(sentence)
        else:
            company_info.append(sentence)
            if "known for " in snippet and moat == "unknown":
                moat = snippet.split("known for ")[1].rstrip(".")
                evidence.append({"fact": moat, "url": link.rstrip("]"), "quote": f"known for {moat}"})
    return {
        "person": {
            "name": _row_value(user, "Name") or person_name(local or "someone"),
            "title": "unknown",
            "info": person_info,
        },
        "company": {
            "name": _row_value(user, "Company") or company_name(domain or "example.com"),
            "info": company_info,
            "moat": moat,
        },
        "evidence": evidence,
    }


def llm_answer(body: Dict[str, Any]) -> str:
    messages = body.get("messages") or []

    def text(role: str) -> str:
        return "\n".join(
            m.get("content", "") for m in messages if m.get("role") == role and m.get("content")
        )

    system, user = text("system"), text("user")
    research = research_from_findings(user)
    shown = research
    lines = user.splitlines()
    if "Research:" in lines:
        # The opener prompt carries the verified research JSON on the line after "Research:".
        try:
            shown = json.loads(lines[lines.index("Research:") + 1])
        except (ValueError, IndexError):
            shown = {}
    company = (shown.get("company") or {}).get("name")
    facts = (shown.get("company") or {}).get("info") or []
    if company and company != "unknown" and facts:
        fact = " ".join(facts[0].split()[:18]).rstrip(".")
        opener = f"Saw this about {company}: {fact}. {TIE}"
    elif company and company != "unknown":
        opener = f"Curious how outbound is going at {company} this quarter. {TIE}"
    else:
        opener = f"Curious how outbound is going this quarter. {TIE}"
    json_mode = body.get("response_format") is not None
    if json_mode and "copywriter" in system:
        return json.dumps({"research": research, "opener": opener})
    if json_mode:
        return json.dumps(research)
    return opener


@dataclass
class FakeProviders:
    """Both fakes on one loopback port. Tweak the public fields inside a test."""

    base: str
    search_latency: float = 0.0
    llm_latency: float = 0.0
    # Random extra latency per request (seconds), so rows finish out of order.
    jitter: float = 0.0
    search_status: int = 200
    llm_status: int = 200
    search_requests: int = 0
    llm_requests: int = 0
    llm_bodies: List[Dict[str, Any]] = field(default_factory=list)
    # When the first and the latest request arrived (time.monotonic()).
    first_request_at: Optional[float] = None
    last_request_at: Optional[float] = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def serper_url(self) -> str:
        return f"{self.base}/search"

    @property
    def llm_base_url(self) -> str:
        return f"{self.base}/v1"

    def reset(self) -> None:
        with self.lock:
            self.search_latency = self.llm_latency = self.jitter = 0.0
            self.search_status = self.llm_status = 200
            self.search_requests = self.llm_requests = 0
            self.llm_bodies.clear()
            self.first_request_at = self.last_request_at = None

    def _arrived(self) -> None:
        """Called under `lock` for every request."""
        now = time.monotonic()
        if self.first_request_at is None:
            self.first_request_at = now
        self.last_request_at = now

    def requests(self) -> int:
        with self.lock:
            return self.search_requests + self.llm_requests

    def pipeline(self, **kwargs: Any) -> outreach.Pipeline:
        """A pipeline pointed at this fake, ignoring the real environment."""
        args: Dict[str, Any] = dict(
            serper_api_key="fake-serper",
            llm_api_key="fake-llm",
            serper_url=self.serper_url,
            llm_base_url=self.llm_base_url,
            env={},
        )
        args.update(kwargs)
        return outreach.Pipeline(**args)


def _make_handler(fake: FakeProviders) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            if self.path == "/search":
                with fake.lock:
                    fake._arrived()
                    fake.search_requests += 1
                    status, latency = fake.search_status, fake.search_latency
                self._delay(latency)
                if status != 200:
                    self._send(status, {"message": "fake failure", "statusCode": status})
                    return
                self._send(200, serper_answer(str((body or {}).get("q", ""))))
            elif self.path == "/v1/chat/completions":
                with fake.lock:
                    fake._arrived()
                    fake.llm_requests += 1
                    fake.llm_bodies.append(body)
                    status, latency = fake.llm_status, fake.llm_latency
                self._delay(latency)
                if status != 200:
                    self._send(status, {"error": {"message": "fake failure"}})
                    return
                content = llm_answer(body)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": length // 4,
                            "completion_tokens": len(content) // 4,
                            "total_tokens": length // 4 + len(content) // 4,
                        },
                    },
                )
            else:
                self._send(404, {"error": "not found"})

        def _delay(self, latency: float) -> None:
            extra = random.uniform(0, fake.jitter) if fake.jitter else 0.0
            if latency + extra > 0:
                time.sleep(latency + extra)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeProviders]:
    fake = FakeProviders(base="")
    server = _Server(("127.0.0.1", 0), _make_handler(fake))
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake(fake_server: FakeProviders) -> FakeProviders:
    fake_server.reset()
    return fake_server


def prospects(n: int, start: int = 0) -> List[Dict[str, Any]]:
    """n prospect rows with distinct addresses at a handful of companies."""
    companies = ["northwind-logistics.com", "brightpath.io", "quantive.ai", "harborpine.co"]
    return [
        {
            "id": i,
            "name": f"Person {i}",
            "email": f"person.{i}@{companies[i % len(companies)]}",
        }
        for i in range(start, start + n)
    ]
