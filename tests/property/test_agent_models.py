"""Laws of the per-turn model: accepted exactly where the agent can honour it, refused naming the field otherwise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from returns.pipeline import is_successful

from core.agents import AgentSpec, ProviderConfig, check_turn_model, model_per_turn
from core.errors import InvalidInput
from core.model import BackendKind

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=20)
providers = st.builds(ProviderConfig, openai_model=names, openai_models=st.lists(names, max_size=4).map(tuple))
agent_names = st.from_regex(r"^[a-z][a-z0-9_-]{0,10}$", fullmatch=True)
specs = st.builds(AgentSpec, name=agent_names, backend=st.sampled_from(BackendKind))


@given(specs, providers)
def test_no_model_is_always_fine(spec: AgentSpec, provider: ProviderConfig) -> None:
    assert is_successful(check_turn_model(spec, provider, None))


@given(specs, providers, names)
def test_a_model_is_accepted_exactly_where_the_agent_can_switch_to_it(
    spec: AgentSpec, provider: ProviderConfig, model: str
) -> None:
    verdict = check_turn_model(spec, provider, model)
    expected = spec.backend is BackendKind.NATIVE or (
        spec.backend is BackendKind.OPENCODE_SERVER and model in (provider.openai_model, *provider.openai_models)
    )
    assert is_successful(verdict) is expected
    if not expected:
        problem = verdict.failure()
        assert isinstance(problem, InvalidInput)
        assert problem.field == "model"
        assert spec.name in problem.detail
    assert model_per_turn(spec) is (spec.backend in (BackendKind.NATIVE, BackendKind.OPENCODE_SERVER))


@given(providers)
def test_the_default_model_comes_first_and_no_choice_repeats(provider: ProviderConfig) -> None:
    choices = provider.openai_model_choices()
    assert choices[0] == provider.openai_model
    assert len(set(choices)) == len(choices)
    assert set(choices) == {provider.openai_model, *provider.openai_models}
