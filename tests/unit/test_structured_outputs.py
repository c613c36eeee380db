"""Structured outputs: the strict schema llmport makes from a class is the one the SDK's ``.parse()`` sends.

The SDK (``openai.lib._pydantic.to_strict_json_schema``) is the reference: for a pydantic model the
schemas must be equal; for a dataclass or a TypedDict, equal but for pydantic's ``title`` keys.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal

import pydantic
import pytest
from openai.lib._pydantic import to_strict_json_schema
from typing_extensions import TypedDict  # pydantic needs it below Python 3.12

from llmport.domain.errors import ProviderError, ValidationError
from llmport.services.structured import response_format_for


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Sub(pydantic.BaseModel):
    a: int
    b: str | None = None


class Model(pydantic.BaseModel):
    subs: list[Sub]
    color: Color
    note: str | None = None


@dataclass
class Step:
    explanation: str
    output: str


@dataclass
class Maths:
    steps: list[Step]
    final_answer: str
    confidence: Literal["low", "high"] | None
    color: Color
    score: float
    count: int
    ok: bool


class Movie(TypedDict):
    name: str
    year: int
    genres: list[Literal["drama", "comedy"]]


def _untitled(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _untitled(value) for key, value in node.items() if key != "title"}
    if isinstance(node, list):
        return [_untitled(value) for value in node]
    return node


def test_a_pydantic_model_gets_exactly_the_sdks_strict_schema() -> None:
    fmt = response_format_for(Model)

    assert fmt.schema == to_strict_json_schema(Model)
    assert (fmt.type, fmt.name, fmt.strict) == ("json_schema", "Model", True)


@pytest.mark.parametrize("output_type", [Maths, Movie])
def test_a_dataclass_or_typeddict_gets_the_sdks_strict_schema(output_type: type[Any]) -> None:
    reference = to_strict_json_schema(pydantic.TypeAdapter(output_type))

    assert response_format_for(output_type).schema == _untitled(reference)


def test_the_parser_builds_instances_down_to_nested_classes_and_enums() -> None:
    parse = response_format_for(Maths).parser
    assert parse is not None

    parsed = parse(
        '{"steps": [{"explanation": "a", "output": "b"}], "final_answer": "c", "confidence": "low",'
        ' "color": "red", "score": 0.5, "count": 2, "ok": true}'
    )

    assert parsed == Maths([Step("a", "b")], "c", "low", Color.RED, 0.5, 2, True)
    assert response_format_for(Model).parser is not None


def test_the_format_is_built_once_per_class() -> None:
    assert response_format_for(Maths) is response_format_for(Maths)


@pytest.mark.parametrize("output_type", [dict, int, str])
def test_other_types_are_refused_with_what_to_pass(output_type: type[Any]) -> None:
    with pytest.raises(ValidationError, match="pydantic model class, a dataclass or a TypedDict"):
        response_format_for(output_type)


def test_a_field_with_no_strict_schema_is_named() -> None:
    @dataclass
    class Loose:
        tags: dict[str, str]

    with pytest.raises(ValidationError, match=r"Loose\.tags"):
        response_format_for(Loose)


def test_a_reply_that_does_not_fit_is_a_provider_error_naming_the_schema() -> None:
    parse = response_format_for(Model).parser
    assert parse is not None

    with pytest.raises(ProviderError, match="Model schema"):
        parse('{"subs": "no"}')


class Described(pydantic.BaseModel):
    # A nested model with a description beside its $ref, and a default of None to drop.
    sub: Sub = pydantic.Field(description="the sub-model")
    maybe: Sub | None = pydantic.Field(default=None, description="perhaps")


def test_a_ref_with_siblings_and_a_null_default_are_made_strict_as_the_sdk_does() -> None:
    schema = response_format_for(Described).schema

    assert schema == to_strict_json_schema(Described)
    assert "$ref" not in schema["properties"]["sub"]
    assert "default" not in schema["properties"]["maybe"]


@dataclass
class Series:
    values: tuple[int, ...]
    colors: list[Color]
    label: str | None


def test_the_parser_builds_tuples_lists_of_enums_and_optional_fields() -> None:
    parse = response_format_for(Series).parser
    assert parse is not None

    parsed = parse('{"values": [1, 2], "colors": ["blue"], "label": null}')

    assert parsed == Series((1, 2), [Color.BLUE], None)
