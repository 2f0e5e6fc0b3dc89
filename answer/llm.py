"""A client for any OpenAI-compatible chat-completions server (llama.cpp's server,
vLLM, Ollama, OpenAI). Every failure surfaces as ``LLMError`` with a reason a
person can read, so callers can fall back instead of failing the request."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

import httpx

Message = dict[str, str]


class LLMError(Exception):
    """The LLM could not give a usable answer; ``str(exc)`` says why."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0
    connect_timeout: float = 3.0
    max_tokens: int = 300
    temperature: float = 0.1
    # After a failed connection, answer without the LLM for this long instead of
    # paying the connect timeout on every call (condensing and answering alike).
    retry_after: float = 10.0


class LLMClient:
    def __init__(
        self, config: LLMConfig, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            transport=transport,
        )
        self._down_until = 0.0

    def _check_up(self) -> None:
        wait = self._down_until - time.monotonic()
        if wait > 0:
            raise LLMError(f"the LLM was unreachable moments ago; trying it again in {wait:.0f} s")

    def _unreachable(self, exc: Exception) -> LLMError:
        self._down_until = time.monotonic() + self.config.retry_after
        return LLMError(f"the LLM is unreachable: {exc}")

    async def aclose(self) -> None:
        await self._http.aclose()

    def _body(
        self, messages: Sequence[Message], stream: bool, max_tokens: int | None
    ) -> dict[str, object]:
        return {
            "model": self.config.model,
            "messages": list(messages),
            "max_tokens": max_tokens or self.config.max_tokens,
            "temperature": self.config.temperature,
            "stream": stream,
        }

    async def complete(self, messages: Sequence[Message], max_tokens: int | None = None) -> str:
        self._check_up()
        try:
            r = await self._http.post(
                "chat/completions", json=self._body(messages, False, max_tokens)
            )
        except httpx.TimeoutException as exc:
            raise LLMError(f"the LLM timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if r.status_code != 200:
            raise LLMError(f"the LLM answered HTTP {r.status_code}: {r.text[:200]}")
        return _completion_text(r.text)

    async def stream(
        self, messages: Sequence[Message], max_tokens: int | None = None
    ) -> AsyncGenerator[str, None]:
        """Text deltas as they arrive. Raises LLMError before or during the stream."""
        self._check_up()
        body = self._body(messages, True, max_tokens)
        produced = False
        try:
            async with self._http.stream("POST", "chat/completions", json=body) as r:
                if r.status_code != 200:
                    text = (await r.aread()).decode("utf-8", "replace")
                    raise LLMError(f"the LLM answered HTTP {r.status_code}: {text[:200]}")
                if not r.headers.get("content-type", "").startswith("text/event-stream"):
                    # Some OpenAI-compatible servers ignore "stream": one whole reply.
                    yield _completion_text((await r.aread()).decode("utf-8", "replace"))
                    return
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        delta = json.loads(data)["choices"][0].get("delta", {}).get("content")
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                        raise LLMError(
                            f"the LLM sent a malformed stream event: {data[:200]!r}"
                        ) from exc
                    if delta:
                        produced = True
                        yield delta
        except httpx.TimeoutException as exc:
            raise LLMError(f"the LLM timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if not produced:
            raise LLMError("the LLM returned an empty answer")


def _completion_text(body: str) -> str:
    """The answer in a non-streamed chat completion, or LLMError saying what is wrong."""
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LLMError(f"the LLM's reply is not a chat completion: {body[:200]!r}") from exc
    if not isinstance(content, str) or not content.strip():
        raise LLMError("the LLM returned an empty answer")
    return content
