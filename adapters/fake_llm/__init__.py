"""A scripted LLM for tests and demos: OpenAI, Anthropic and Gemini on one loopback port (agents.md §13)."""

from adapters.fake_llm.fake import FakeLLM

__all__ = ["FakeLLM"]
