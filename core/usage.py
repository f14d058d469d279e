"""The usage ledger: what a turn used, priced once, the same way for every backend.

Agents report usage in their own shapes (``core.acp.tools``, ``core.opencode.parts``, the native agent) as
``UsageReport`` increments; some state a cost, most only tokens. The ledger adds a turn's reports up and prices
the tokens with the provider's price, so qwen, OpenCode and the native agent on one provider cost the same for the
same tokens. Unknown stays unknown: a turn whose agent reported nothing has usage ``None`` (Claude Code reports
none), and tokens with neither a stated cost nor a configured price have cost ``None`` rather than 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.agents import AgentSpec, ModelPrice, ProviderConfig
from core.events import UsageReport
from core.model import Usage


def reported(report: UsageReport) -> Usage:
    """One report as a usage increment. A stated cost of 0 is no statement: OpenCode says 0 for a model it has
    no price for, and a free model is priced 0 by its configured price anyway."""
    return Usage(
        input_tokens=report.input_tokens,
        output_tokens=report.output_tokens,
        reasoning_tokens=report.reasoning_tokens,
        cost_usd=report.cost_usd if report.cost_usd > 0 else None,
    )


def combine(first: Usage | None, second: Usage | None) -> Usage | None:
    """The sum of what is known; unknown only when both are."""
    if first is None:
        return second
    if second is None:
        return first
    return first + second


def tally(reports: Iterable[UsageReport]) -> Usage | None:
    total: Usage | None = None
    for report in reports:
        total = combine(total, reported(report))
    return total


def priced(usage: Usage | None, price: ModelPrice | None) -> Usage | None:
    """A turn's usage with its cost: the agent's own when it stated one, else its tokens at ``price``."""
    if usage is None or usage.cost_usd is not None or price is None:
        return usage
    return usage.model_copy(
        update={"cost_usd": price.cost(usage.input_tokens, usage.output_tokens, usage.reasoning_tokens)}
    )


def price_for(spec: AgentSpec, provider: ProviderConfig) -> ModelPrice | None:
    """The price of the provider the agent talks to; hearth knows only the OpenAI-compatible one's."""
    return provider.openai_price if spec.provider == "openai" else None
