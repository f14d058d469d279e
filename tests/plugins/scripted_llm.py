"""The scripted LLM for every test: one server per session, its log cleared per test by ``llm``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.agents import ModelPrice, ProviderConfig
from scripted_llm.llm import ScriptedLLM


@pytest.fixture(scope="session")
def scripted_llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def llm(scripted_llm: ScriptedLLM) -> ScriptedLLM:
    """The session's scripted LLM with an empty request log."""
    scripted_llm.reset()
    return scripted_llm


@pytest.fixture(scope="session")
def provider_config(scripted_llm: ScriptedLLM) -> ProviderConfig:
    """All three providers pointed at the scripted LLM, with fake keys."""
    return ProviderConfig(
        openai_base_url=scripted_llm.openai_base_url,
        openai_api_key="fake-openai-key",
        openai_model="fake-model",
        openai_price=ModelPrice(input=3, output=15, cache_read=0.3, cache_write=3.75),  # USD per million tokens
        anthropic_base_url=scripted_llm.anthropic_base_url,
        anthropic_api_key="fake-anthropic-key",
        anthropic_model="claude-sonnet-4-5",
        gemini_base_url=scripted_llm.gemini_base_url,
        gemini_api_key="fake-gemini-key",
        gemini_model="gemini-2.5-flash",
    )
