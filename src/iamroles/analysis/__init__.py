"""iamroles.analysis: questions asked of policies rather than requests answered: IAM's policy simulator, and
policy validation beyond syntax (Access Analyzer's findings).

Each analysis decides with the policy core's evaluator, the one that authorises every request, and describes its
answer with what the catalogue of AWS actions (``iamroles.catalog``) knows.
"""
from .findings import Finding, Location, validate_findings
from .simulate import (
    ActionResult,
    MatchedStatement,
    ResourceResult,
    Simulation,
    Source,
    simulate,
)

__all__ = ["ActionResult", "Finding", "Location", "MatchedStatement", "ResourceResult", "Simulation", "Source", "simulate",
           "validate_findings"]
