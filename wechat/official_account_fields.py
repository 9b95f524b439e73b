"""Reading what WeChat sends an Official Account: pushed XML (as the inbox's dict) and JSON answers alike.

WeChat's documents and SDKs disagree on the case of some element names (MsgID, MsgId), and a
list element with one <item> parses as that item alone, with several as a list of them.
"""


def field_value(container: dict, name: str):
    """An element or key by name, whatever its case; None when absent."""
    for key, value in container.items():
        if key.lower() == name.lower():
            return value
    return None


def field_count(container: dict, name: str) -> int | None:
    """A non-negative whole number, sent as text (XML) or a number (JSON); None when absent or not one."""
    value = field_value(container, name)
    return int(value) if isinstance(value, str | int) and str(value).isdigit() else None


def field_text(container: dict, name: str) -> str:
    value = field_value(container, name)
    return str(value).strip() if isinstance(value, str | int) else ""


def field_items(container: object) -> list[dict]:
    """The <item>s of a list element (ResultList, article_detail), as a list whether one or several."""
    items = field_value(container, "item") if isinstance(container, dict) else None
    if isinstance(items, dict):
        return [items]
    return [item for item in items or [] if isinstance(item, dict)]


def urls_by_index(container: object, *, index_name: str, url_name: str) -> dict[int, str]:
    """{1-based article index: URL} from a list of items each naming its article's index and URL."""
    urls = {}
    for item in field_items(container):
        index, url = field_value(item, index_name), field_value(item, url_name)
        if str(index).isdigit() and isinstance(url, str):
            urls[int(index)] = url.strip()
    return urls
