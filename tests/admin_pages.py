"""Reading admin pages in tests, whatever classes and attributes the admin's theme adds to their markup."""

import re


def changelist_cells(page: str, field: str) -> list[str]:
    """The texts of a changelist column's cells (`<td class="... field-<name> ...">`), in row order."""
    pattern = rf'<td class="[^"]*\bfield-{re.escape(field)}\b[^"]*"[^>]*>\s*(.*?)\s*</td>'
    return re.findall(pattern, page, flags=re.DOTALL)
