"""The Arn type: the one place an ARN is taken apart
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamroles.policy import Arn


def test_an_iam_arn_with_a_path() -> None:
    arn = Arn.parse("arn:aws-cn:iam::111122223333:role/service-role/ci/deployer")
    assert (arn.partition, arn.service, arn.region, arn.account) == ("aws-cn", "iam", "", "111122223333")
    assert (arn.resource, arn.resource_type, arn.name) == ("role/service-role/ci/deployer", "role", "deployer")
    assert arn.is_iam("role") and not arn.is_iam("user") and not arn.is_iam("rol")


def test_the_resource_keeps_its_colons() -> None:
    """Everything after the fifth colon is the resource: a log stream's ARN holds more colons."""
    arn = Arn.parse("arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:web-1")
    assert arn.resource == "log-group:app:log-stream:web-1" and arn.region == "us-east-1"
    assert str(arn) == "arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:web-1"


@pytest.mark.parametrize("text", ["", "arn", "arn:aws:iam::111122223333", "ARN:aws:iam::111122223333:role/x",
                                  "urn:aws:iam::111122223333:role/x", "111122223333", "*"])
def test_what_is_not_an_arn(text: str) -> None:
    assert Arn.maybe(text) is None
    with pytest.raises(ValueError, match="not an ARN"):
        Arn.parse(text)


def test_an_sts_session_is_not_an_iam_role() -> None:
    arn = Arn.parse("arn:aws:sts::111122223333:assumed-role/deployer/build-7")
    assert not arn.is_iam("role") and not arn.is_iam("assumed-role") and arn.name == "build-7"


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters=":"), max_size=8), min_size=4, max_size=4),
       st.text(max_size=20))
def test_parse_and_str_round_trip(fields: list[str], resource: str) -> None:
    text = ":".join(["arn", *fields[:4], resource])
    arn = Arn.parse(text)
    assert str(arn) == text and arn.resource == resource and Arn.parse(str(arn)) == arn
