"""Prompt optimisation (pipeline step 6): small transforms, one per module.

``service.Optimizer`` picks the transforms for the request's mode and runs
them; ``base`` explains the rule every transform keeps so that Anthropic's
prompt cache survives optimisation.
"""

from gateway.services.optimizer.service import MODES, Optimizer

__all__ = ["MODES", "Optimizer"]
