"""A tiny, deterministic OpenAI-compatible server: `/v1/chat/completions` (with structured outputs) and
`/v1/models`. The tests, the bench and the README walkthrough point pre-labeling at it; nothing here
talks to a real model.

    python -m app.web.llm_stub --port 8001 [--latency-ms 50]

Answers are a function of the request: a `json_schema` response format gets a JSON object that fits the
schema (a label is chosen by the words it shares with the prompt; a judge prefers the longer response),
plain requests get a short text naming the model and the seed. Usage counts one token per four characters.

Markers in any message make the stub misbehave, per request (retries of the same request count up):
  [stub:429=N]    the first N attempts answer 429 without a Retry-After header
  [stub:429ms=N]  the first N attempts answer 429 with `retry-after-ms: 20`
  [stub:500=N]    the first N attempts answer 500
  [stub:slow=MS]  answer after MS milliseconds
  [stub:malformed]  structured requests get text that is not JSON
  [stub:judge=first]  a judge that always prefers the response shown first (position bias)

Per model, `POST /_stub/config {"models": {"<name>": {"latency_ms": N, "fail": N}}}` makes that model slow
(N ms before it answers) or fail its first N requests with a 500 (the chat tests' slow and failing
models). A request with `"stream": true` is answered as server-sent events, a few words per chunk, each
after `stream_ms` (config, default 20).

`GET /_stub/stats` reports requests, the most requests ever in flight at once and answers by status;
`POST /_stub/reset` clears them; `POST /_stub/config {"latency_ms": N}` changes the base latency."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from mlcore.lifeline import die_with_parent

MARKER = re.compile(r"\[stub:([a-z0-9]+)(?:=([a-z0-9]+))?\]")
RESPONSE_HEADING = re.compile(r"^\W*Response ([A-Z])\b.*$", re.MULTILINE)
WORD = re.compile(r"[a-z]{4,}")


@dataclass
class StubState:
    latency_ms: float = 0.0
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_model: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    prompts: list[str] = field(default_factory=list)  # the last user message of each request, in order
    images: list[str] = field(default_factory=list)  # the image parts' URLs of each request, in order
    authorizations: list[str | None] = field(default_factory=list)  # each request's Authorization header
    models: dict[str, dict[str, float]] = field(default_factory=dict)  # per model: latency_ms, fail
    stream_ms: float = 20.0

    def reset(self) -> None:
        self.requests = self.in_flight = self.max_in_flight = 0
        self.by_status.clear()
        self.by_model.clear()
        self.attempts.clear()
        self.prompts.clear()
        self.images.clear()
        self.authorizations.clear()
        self.models.clear()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_model": dict(self.by_model),
            "latency_ms": self.latency_ms,
        }


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _stems(text: str) -> list[str]:
    return [w[:5] for w in WORD.findall(text.lower())]


def _pick_label(options: list[str], prompt: str) -> tuple[str, float]:
    """The option whose words (5-letter stems) the text uses most: the part after the last "Text:" line
    when there is one (Preflab's label template), else the whole prompt. Ties are broken by a hash, so
    answers are stable; the confidence grows with the evidence."""
    marker = prompt.rfind("\nText:")
    text = prompt[marker:] if marker >= 0 else prompt
    words = Counter(_stems(text))
    digest = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)

    def score(i: int) -> tuple[int, int]:
        return (sum(words[w] for w in set(_stems(options[i]))), (digest >> i) & 0xFF)

    best = max(range(len(options)), key=score)
    evidence = score(best)[0]
    return options[best], round(min(0.35 + 0.15 * evidence, 0.95), 2)


def _sections(prompt: str) -> dict[str, int]:
    """Length of each "Response X" section; the last one ends at the last blank line (the question)."""
    heads = list(RESPONSE_HEADING.finditer(prompt))
    lengths: dict[str, int] = {}
    for i, head in enumerate(heads):
        if i + 1 < len(heads):
            body = prompt[head.end() : heads[i + 1].start()]
        else:
            rest = prompt[head.end() :].strip("\n")
            body = rest[: rest.rfind("\n\n")] if "\n\n" in rest else rest
        lengths[head.group(1)] = len(body.strip())
    return lengths


def _judge(options: list[str], prompt: str, first: bool) -> str:
    """Prefer the longer response (a stable, content-based choice); 'tie' when they are as long."""
    if first:
        return options[0]
    lengths = _sections(prompt)
    scored = [o for o in options if o in lengths]
    if not scored:
        return options[0]
    best = max(scored, key=lambda o: lengths[o])
    if "tie" in options and sum(1 for o in scored if lengths[o] == lengths[best]) > 1:
        return "tie"
    return best


def _fill(schema: dict[str, Any], prompt: str, name: str, judge_first: bool) -> Any:
    json_type = schema.get("type")
    if "enum" in schema:
        options = [str(o) for o in schema["enum"]]
        if name in ("choice", "winner") or set(options) <= {"A", "B", "C", "D", "E", "F", "tie"}:
            return _judge(options, prompt, judge_first)
        return _pick_label(options, prompt)[0]
    if json_type == "object":
        props = schema.get("properties", {})
        return {k: _fill(v, prompt, k, judge_first) for k, v in props.items()}
    if json_type == "array":
        items = schema.get("items", {})
        if "enum" in items and name == "ranking":  # a judge's ranking: longest first
            opts = [str(o) for o in items["enum"]]
            size = _sections(prompt)
            return opts if judge_first else sorted(opts, key=lambda o: -size.get(o, 0))
        return [_fill(items, prompt, name, judge_first)]
    if json_type in ("number", "integer"):
        return 0.8 if json_type == "number" else 1
    if json_type == "boolean":
        return True
    if name == "rationale":
        return "The chosen response answers the question more completely."
    return "stub"


def _structured(schema: dict[str, Any], prompt: str, judge_first: bool) -> dict[str, Any]:
    answer = _fill(schema, prompt, "", judge_first)
    if isinstance(answer, dict) and "confidence" in answer:
        labels = schema.get("properties", {})
        for key in ("label", "labels"):
            spec = labels.get(key, {})
            options = spec.get("enum") or spec.get("items", {}).get("enum")
            if options:
                answer["confidence"] = _pick_label([str(o) for o in options], prompt)[1]
    return answer if isinstance(answer, dict) else {"value": answer}


async def _chunks(
    content: str, model: str, key: str, usage_in: int, usage_out: int, every_ms: float
) -> AsyncIterator[bytes]:
    """An answer as OpenAI streams it: deltas of a few words, then the usage, then [DONE]."""
    base = {"id": f"chatcmpl-{key[:12]}", "object": "chat.completion.chunk", "created": int(time.time())}
    words = content.split(" ")
    for i in range(0, len(words), 3):
        piece = " ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "")
        delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
        chunk = {**base, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        await asyncio.sleep(every_ms / 1000)
    usage = {"prompt_tokens": usage_in, "completion_tokens": usage_out, "total_tokens": usage_in + usage_out}
    end = {
        **base,
        "model": model,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": usage,
    }
    yield b"data: " + orjson.dumps(end) + b"\n\n"
    yield b"data: [DONE]\n\n"


def create_stub(state: StubState | None = None) -> FastAPI:
    state = state or StubState()
    app = FastAPI(title="Preflab OpenAI-compatible stub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.stub = state

    def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        state.by_status[status] += 1
        return Response(
            orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
        )

    @app.get("/v1/models")
    async def models() -> Response:
        return answer(
            200, {"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "stub"}]}
        )

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Response:
        body = orjson.loads(await request.body())
        messages = body.get("messages") or []
        model = str(body.get("model", ""))
        everything = "\n".join(_text_of(m.get("content")) for m in messages)
        last_user = next(
            (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        markers = {m.group(1): m.group(2) for m in MARKER.finditer(everything)}
        key = hashlib.sha256(orjson.dumps([model, messages, body.get("seed")])).hexdigest()
        state.attempts[key] += 1
        attempt = state.attempts[key]
        state.requests += 1
        state.by_model[model] += 1
        state.prompts.append(last_user)
        state.images += [
            str((p.get("image_url") or {}).get("url", ""))
            for m in messages if isinstance(m.get("content"), list)
            for p in m["content"] if isinstance(p, dict) and p.get("type") == "image_url"
        ]  # fmt: skip
        state.authorizations.append(request.headers.get("authorization"))
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            own = state.models.get(model, {})
            delay = state.latency_ms + float(markers.get("slow") or 0) + float(own.get("latency_ms", 0))
            if delay:
                await asyncio.sleep(delay / 1000)
            for marker, headers in (("429", None), ("429ms", {"retry-after-ms": "20"}), ("500", None)):
                if marker in markers and attempt <= int(markers[marker] or 1):
                    status = 500 if marker == "500" else 429
                    error = {"message": f"stub: injected {status} (attempt {attempt})", "type": "stub"}
                    return answer(status, {"error": error}, headers)
            if own.get("fail", 0) >= 1:
                own["fail"] -= 1
                error = {"message": f"stub: model {model} failed on purpose", "type": "stub"}
                return answer(500, {"error": error})
            fmt = body.get("response_format") or {}
            if fmt.get("type") == "json_schema":
                schema = (fmt.get("json_schema") or {}).get("schema") or {}
                content = (
                    "{not json: the stub was asked to answer badly"
                    if "malformed" in markers
                    else orjson.dumps(
                        _structured(schema, everything, markers.get("judge") == "first")
                    ).decode()
                )
            else:
                seed = body.get("seed")
                words = " ".join(last_user.split()[:12])
                sampled = f" t={body['temperature']}" if body.get("temperature") else ""  # two replies differ
                content = f"[{model} seed {seed}{sampled}] A considered answer to: {words}"
            usage_in = sum(tokens(_text_of(m.get("content"))) for m in messages)
            usage_out = tokens(content)
            if body.get("stream"):
                state.by_status[200] += 1
                return StreamingResponse(
                    _chunks(content, model, key, usage_in, usage_out, state.stream_ms),
                    media_type="text/event-stream",
                )
            return answer(
                200,
                {
                    "id": f"chatcmpl-{key[:12]}-{attempt}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": usage_in,
                        "completion_tokens": usage_out,
                        "total_tokens": usage_in + usage_out,
                    },
                },
            )
        finally:
            state.in_flight -= 1

    @app.get("/_stub/stats")
    async def stats() -> Response:
        return Response(orjson.dumps(state.stats()), media_type="application/json")

    @app.post("/_stub/reset")
    async def reset() -> Response:
        state.reset()
        return Response(b"{}", media_type="application/json")

    @app.post("/_stub/config")
    async def config(request: Request) -> Response:
        body = orjson.loads(await request.body() or b"{}")
        if "latency_ms" in body:
            state.latency_ms = float(body["latency_ms"])
        if "stream_ms" in body:
            state.stream_ms = float(body["stream_ms"])
        for name, how in (body.get("models") or {}).items():
            state.models[str(name)] = {k: float(v) for k, v in how.items() if k in ("latency_ms", "fail")}
        return Response(orjson.dumps(state.stats()), media_type="application/json")

    return app


class StubServer:
    """The stub on 127.0.0.1 in a background thread (tests): `with StubServer() as stub: stub.base_url`."""

    def __init__(self, *, latency_ms: float = 0.0, port: int = 0) -> None:
        self.state = StubState(latency_ms=latency_ms)
        config = uvicorn.Config(
            create_stub(self.state), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="llm-stub", daemon=True)
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the LLM stub did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    die_with_parent()  # started by `preflab serve`: it ends with the server, even one killed outright
    parser = argparse.ArgumentParser(description="A deterministic OpenAI-compatible server for Preflab.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="answer every request after this long")
    args = parser.parse_args(argv)
    print(f"OpenAI-compatible stub at http://{args.host}:{args.port}/v1 (any model name, any API key)")
    uvicorn.run(
        create_stub(StubState(latency_ms=args.latency_ms)),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
