"""The text the original shows for each WebShop page, without rendering any HTML.

The original renders a Flask template, parses it with BeautifulSoup's html.parser, and joins the
stripped visible text nodes with " [SEP] ", dropping nodes that are a bare newline. Each page
below lists its text nodes in document order and passes them through `visible`, which applies
the parser's whitespace rule, so odd product text (empty bullet points, blank descriptions)
reads as it does there. Clickables are the page's buttons and product links (lower-cased text)
followed by the option radio buttons (their values), as a dict in the original's key order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from hintrag.envs.webshop.data import Product

SEP = " [SEP] "
PER_PAGE = 10
_ASCII_SPACE = " \t\n\r\f"


@dataclass(frozen=True)
class Clickable:
    """What a click target is: a button, a product link, or an option radio with its option name."""

    kind: str  # button | link | radio
    option: str = ""
    label: str = ""  # a button's text as the page shows it (clickables are keyed lower-case)


@dataclass(frozen=True)
class Page:
    """One rendered page: its kind, its text-mode observation and what can be clicked on it."""

    kind: str  # start | results | item | sub | done
    text: str
    clickables: dict[str, Clickable]
    hidden: frozenset[str] = frozenset()  # not in the text (env.results_shown): clickable, not offered

    @property
    def admissible(self) -> list[str]:
        return list(self.clickables)

    @property
    def choices(self) -> list[str]:
        """Every click this page allows, written as the page shows its target (`click[Buy Now]`,
        `click[B07XYZ1234]`), which is how demonstrations write them; none on the search page,
        where the agent types its query, nor for products the page hides."""
        return [f"click[{label(name, target)}]" for name, target in self.clickables.items()
                if name != "search" and name not in self.hidden]


def label(name: str, target: Clickable) -> str:
    """A clickable's text as the page shows it: a button's label, a product's ASIN in capitals, an
    option value as written (clickables are keyed lower-case, as the original's are)."""
    if target.kind == "button":
        return target.label
    return name.upper() if target.kind == "link" else name


def visible(node: str) -> str | None:
    """A text node as the text observation shows it; None when it is dropped.

    html.parser turns a node of ASCII whitespace into "\\n" (if it holds a newline, and the
    observation then skips it) or " " (which strips to an empty entry).
    """
    if node == "":
        return None
    if node.strip(_ASCII_SPACE) == "":
        return None if "\n" in node else ""
    return node.strip()


def join(nodes: Iterable[str]) -> str:
    return SEP.join(t for t in (visible(n) for n in nodes) if t is not None)


def _buttons(*labels: str) -> dict[str, Clickable]:
    return {text.lower(): Clickable("button", label=text) for text in labels}


def start_page(instruction: str) -> Page:
    """The search page every episode (and every Back to Search) starts from."""
    return Page("start", join(["WebShop", "Instruction: ", instruction, "Search"]), _buttons("Search"))


def results_page(instruction: str, products: list[Product], page: int, shown: int | None = None) -> Page:
    """One page of ten results; Next > shows even on the last page, < Prev from page 2 on.

    With `shown` only the page's first `shown` products are listed, as the authors' WebShop runner
    blanked the rest (their links and text lines); the hidden ones stay clickable by code, as
    theirs did, since the server's page still holds them."""
    on_page = products[(page - 1) * PER_PAGE:page * PER_PAGE]
    listed = on_page if shown is None else on_page[:shown]
    nav = ["< Prev", "Next >"] if page > 1 else ["Next >"]
    nodes = ["Instruction:", instruction, "Back to Search", f"Page {page} (Total results: {len(products)})", *nav]
    for product in listed:
        nodes += [product.asin, product.name, product.price_tag]
    clickables = _buttons("Back to Search", *nav)
    clickables.update((p.asin.lower(), Clickable("link")) for p in on_page)
    hidden = frozenset(p.asin.lower() for p in on_page[len(listed):])
    return Page("results", join(nodes), clickables, hidden)


def item_page(instruction: str, product: Product) -> Page:
    """A product with its options, price and rating; chosen options do not show in text mode."""
    nodes = ["Instruction:", instruction, "Back to Search", "< Prev"]
    radios: dict[str, Clickable] = {}
    for name, values in product.options.items():
        nodes.append(name)
        nodes += values
        radios.update((value, Clickable("radio", name)) for value in values)
    nodes += [product.name, f"Price: {product.price_tag}", f"Rating: {product.rating}"]
    nodes += ["Description", "Features", "Reviews", "Buy Now"]
    clickables = _buttons("Back to Search", "< Prev", "Description", "Features", "Reviews", "Buy Now")
    clickables.update(radios)
    return Page("item", join(nodes), clickables)


def sub_page(instruction: str, product: Product, name: str) -> Page:
    """Description, Features (one entry per bullet point) or Reviews (none in this setting)."""
    nodes = ["Instruction:", instruction, "Back to Search", "< Prev"]
    if name == "Description":
        nodes.append(product.description)
    elif name == "Features":
        nodes += [f" {bullet}" for bullet in product.bullets]
    return Page("sub", join(nodes), _buttons("Back to Search", "< Prev"))


def done_page(asin: str, options_json: str, reward: float) -> Page:
    """The thank-you page after Buy Now; its hidden debug fields print as in the original."""
    nodes = [
        "Thank you for shopping with us!", "Your code: ", "None", " (Paste it in your MTurk interface.)",
        "Purchased", "asin", asin, "options", options_json, "attrs", "None", "category", "None",
        "query", "None", "product category", "None", "Target", "asin", "options", "attrs",
        "price upper", "instuction text", "category", "product category", "query", "Goal ", "None",
        "Reward", "Your score (min 0.0, max 1.0)", str(reward), "Reward Details ", "None",
    ]
    return Page("done", join(nodes), {})
