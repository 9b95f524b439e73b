"""validated_input (config/api_input.py) validates as a serializer's is_valid() does, from one instance a process."""

import threading

import pytest
from django.utils import translation
from rest_framework import serializers

from config.api_input import validated_input
from customers.apis import LoginApi

InputSerializer = LoginApi.InputSerializer

PAYLOADS = {
    "a code": {"code": "0a1b2c"},
    "a code with spaces around it": {"code": "  0a1b2c "},
    "a code and a source": {"code": "0a1b2c", "source": {"scene": 1047, "campaign": "spring", "path": "pages/index"}},
    "an empty source": {"code": "0a1b2c", "source": {}},
    "unknown fields": {"code": "0a1b2c", "extra": 1},
    "a number as the code": {"code": 12345},
    "nothing": {},
    "an empty code": {"code": ""},
    "a blank code": {"code": "   "},
    "a long code": {"code": "x" * 129},
    "a null code": {"code": None},
    "a list as the code": {"code": ["a"]},
    "a true code": {"code": True},
    "a NUL in the code": {"code": "a\x00b"},
    "a scene out of range": {"code": "0a1b2c", "source": {"scene": 12}},
    "a campaign with a space": {"code": "0a1b2c", "source": {"campaign": "a b"}},
    "a path with a line break": {"code": "x", "source": {"path": "pages/\nindex"}},
    "a null source": {"code": "0a1b2c", "source": None},
    "a list as the source": {"code": "0a1b2c", "source": [1]},
    "every field wrong": {"code": "", "source": {"scene": "x", "campaign": "a b", "path": " "}},
    "a JSON null": None,
    "a JSON list": [{"code": "0a1b2c"}],
    "a JSON string": "0a1b2c",
}


def _is_valid_outcome(data):
    serializer = InputSerializer(data=data)
    try:
        serializer.is_valid(raise_exception=True)
    except serializers.ValidationError as refused:
        return "refused", refused.get_full_details()
    return "valid", serializer.validated_data


def _validated_input_outcome(data):
    try:
        return "valid", validated_input(InputSerializer, data)
    except serializers.ValidationError as refused:
        return "refused", refused.get_full_details()


@pytest.mark.parametrize("data", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_the_same_data_or_the_same_errors_as_is_valid(data):
    assert _validated_input_outcome(data) == _is_valid_outcome(data)


def test_threads_validating_at_once_each_get_their_own_answer():
    mismatches: list[tuple[int, object]] = []

    def validate(number: int) -> None:
        data = {"code": f"code-{number}"} if number % 2 else {"code": "", "source": {"scene": number}}
        expected = _is_valid_outcome(data)
        for _ in range(300):
            if (outcome := _validated_input_outcome(data)) != expected:
                mismatches.append((number, outcome))

    threads = [threading.Thread(target=validate, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert mismatches == []


@pytest.mark.parametrize("first, then", [("en", "zh-hans"), ("zh-hans", "en")])
def test_each_request_reads_the_limits_in_its_own_language(first, then):
    data = {"code": "x" * 129, "source": {"scene": 12}}
    with translation.override(first):
        _validated_input_outcome(data)  # the first to word the limits
    with translation.override(then):
        outcome, expected = _validated_input_outcome(data), _is_valid_outcome(data)

    assert outcome == expected
    with translation.override(first):
        assert outcome != _is_valid_outcome(data)
