"""Which operations of botocore's IAM and STS models iamroles serves, held against the model CI installs.

The operations not served yet are listed here by name, so a newer botocore that adds an operation fails this
test until the operation is served or knowingly added to the list, and serving one fails it until the name is
taken off (the list can only shrink by being right). Everything else in the models answers as AWS would, not
``InvalidAction`` (tests/server/test_fuzz.py sends each of them model-valid input).
"""
from __future__ import annotations

import botocore
import botocore.session
import pytest

from iamroles import sts  # noqa: F401  (registers the STS operations)
from iamroles.iam import OPERATIONS

NOT_SERVED: dict[str, frozenset[str]] = {
    "iam": frozenset(),
    "sts": frozenset(),
}


@pytest.mark.parametrize("service", sorted(NOT_SERVED))
def test_every_operation_of_the_model_is_served_or_known_missing(service: str) -> None:
    model = botocore.session.get_session().get_service_model(service)
    in_model = set(model.operation_names)
    served = {name for svc, name in OPERATIONS if svc == service}
    new = in_model - served - NOT_SERVED[service]
    assert not new, f"botocore {botocore.__version__} adds {service} operations iamroles does not serve: {sorted(new)}"
    now_served = served & NOT_SERVED[service]
    assert not now_served, f"served now, take them off NOT_SERVED: {sorted(now_served)}"
    gone = NOT_SERVED[service] - in_model
    assert not gone, f"not in botocore {botocore.__version__}'s model: {sorted(gone)}"
    assert served <= in_model, f"served but not in the model: {sorted(served - in_model)}"
