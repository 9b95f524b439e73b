"""Spec dimensions (颜色: 雾灰, 靛蓝; 床宽: 1.5m, 1.8m) and the SKU matrix they span.

A product's dimensions are a list of {"name": ..., "values": [...]} in display order; each
SKU's `specs` names one value of every dimension ({"颜色": "雾灰", "床宽": "1.5m"}). The matrix
is every combination, first dimension slowest, as a shop admin reads a spec table. Pure
functions only: the admin form and the services both check with them.
"""

import itertools
from collections.abc import Iterable

from django.utils.translation import gettext as _

# A Mini Program's spec picker shows each dimension as a row of buttons; more than a few rows
# or buttons stop fitting a phone screen, and the matrix grows as their product.
MAX_DIMENSIONS = 3
MAX_VALUES_PER_DIMENSION = 20
MAX_COMBINATIONS = 200
MAX_NAME_LENGTH = 20
MAX_VALUE_LENGTH = 30


def specs_text(specs: dict[str, str]) -> str:
    """A SKU's specs as staff read them ("颜色: 雾灰 / 床宽: 1.5m"), a dash for none, never as JSON."""
    return " / ".join(f"{name}: {value}" for name, value in specs.items()) or "—"


def spec_key(specs: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The same specs whatever order their keys were written in: how rows are matched to SKUs."""
    return tuple(sorted(specs.items()))


def spec_dimensions_problems(dimensions) -> list[str]:
    """What is wrong with `dimensions`, as sentences for staff; empty when they are fine."""
    if not isinstance(dimensions, list) or not all(
        isinstance(dimension, dict)
        and isinstance(dimension.get("name"), str)
        and isinstance(dimension.get("values"), list)
        and all(isinstance(value, str) for value in dimension["values"])
        for dimension in dimensions
    ):
        return [_("The spec dimensions could not be read; reload the page and try again.")]
    problems = []
    if len(dimensions) > MAX_DIMENSIONS:
        problems.append(_("At most %(count)d spec dimensions.") % {"count": MAX_DIMENSIONS})
    names_seen = set()
    for dimension in dimensions:
        name = dimension["name"].strip()
        values = [value.strip() for value in dimension["values"]]
        if not name:
            problems.append(_("Every spec dimension needs a name."))
        elif len(name) > MAX_NAME_LENGTH:
            problems.append(
                _("The dimension name “%(name)s” is longer than %(count)d characters.")
                % {"name": name, "count": MAX_NAME_LENGTH}
            )
        elif name in names_seen:
            problems.append(_("The dimension “%(name)s” appears twice.") % {"name": name})
        names_seen.add(name)
        label = name or _("(unnamed)")
        if not values:
            problems.append(_("The dimension “%(name)s” has no values.") % {"name": label})
        if len(values) > MAX_VALUES_PER_DIMENSION:
            problems.append(
                _("The dimension “%(name)s” has more than %(count)d values.")
                % {"name": label, "count": MAX_VALUES_PER_DIMENSION}
            )
        if any(not value for value in values):
            problems.append(_("The dimension “%(name)s” has an empty value.") % {"name": label})
        for value in sorted({value for value in values if values.count(value) > 1}):
            problems.append(_("The value “%(value)s” appears twice in “%(name)s”.") % {"value": value, "name": label})
        if any(len(value) > MAX_VALUE_LENGTH for value in values):
            problems.append(
                _("A value of “%(name)s” is longer than %(count)d characters.")
                % {"name": label, "count": MAX_VALUE_LENGTH}
            )
    if not problems and combination_count(dimensions) > MAX_COMBINATIONS:
        problems.append(
            _("These dimensions make %(made)d combinations; at most %(count)d fit one product.")
            % {"made": combination_count(dimensions), "count": MAX_COMBINATIONS}
        )
    return problems


def spec_dimensions_normalized(dimensions: list[dict]) -> list[dict]:
    """Names and values without surrounding spaces; call only on dimensions without problems."""
    return [
        {"name": dimension["name"].strip(), "values": [value.strip() for value in dimension["values"]]}
        for dimension in dimensions
    ]


def combination_count(dimensions: list[dict]) -> int:
    count = 1
    for dimension in dimensions:
        count *= len(dimension["values"])
    return count


def spec_combinations(dimensions: list[dict]) -> list[dict[str, str]]:
    """Every combination of one value per dimension; no dimensions is one SKU without specs."""
    names = [dimension["name"] for dimension in dimensions]
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(dimension["values"] for dimension in dimensions))
    ]


def spec_dimensions_from_specs(all_specs: Iterable[dict[str, str]], *, stored: list[dict] = ()) -> list[dict]:
    """`stored` dimensions, plus every name and value of `all_specs` they lack, in order of first appearance.

    For SKUs made outside the matrix editor (imports, older rows): they show in the matrix
    instead of being dropped from it the next time the product is saved.
    """
    values_by_name: dict[str, list[str]] = {dimension["name"]: list(dimension["values"]) for dimension in stored}
    for specs in all_specs:
        for name, value in specs.items():
            values = values_by_name.setdefault(name, [])
            if value not in values:
                values.append(value)
    return [{"name": name, "values": values} for name, values in values_by_name.items()]
