"""What every backend indexes of a post's text for search, field by field, in the same form.

The store knows no Chinese: the analysis stage gives it `IndexGrams`, a plain function that turns text
into (grams in order, single characters), and the query parser gets its counterpart for query words.
Each backend indexes the strings `search_fields` returns in whitespace-tokenised fields, grams with
positions (phrases) and characters with frequencies, so both answer a query with the same posts.
"""

from __future__ import annotations

from collections.abc import Callable

from models import Post

# text → (grams in order, for words and phrases; single characters, for one-character searches)
IndexGrams = Callable[[str], tuple[list[str], list[str]]]

# A searchable text field of the query language → its (grams, characters) index fields.
GRAM_FIELDS = {
    "text": ("grams", "chars"),  # title and content
    "title": ("title_grams", "title_chars"),
    "author": ("author_grams", "author_chars"),
}
TOKENS = "tokens"  # jieba's words, to rank a hit on a whole word above a hit inside a longer one


def tokens_text(tokens: list[str] | tuple[str, ...]) -> str:
    """Words as one whitespace-separated string, lower case (a word with a space inside is written without it)."""
    joined = " ".join(tokens)
    if joined.count(" ") == len(tokens) - 1:  # no word holds a space: the rule, read at C speed
        return joined.lower()
    return " ".join(t.replace(" ", "") for t in tokens).lower()


def search_fields(post: Post, grams: IndexGrams) -> dict[str, str]:
    """Index field name → whitespace-separated terms, for every field above."""
    fields = {TOKENS: tokens_text(post.tokens)}
    for name, text in (("text", post.text), ("title", post.title), ("author", post.author.name)):
        in_order, chars = grams(text)
        gram_field, char_field = GRAM_FIELDS[name]
        fields[gram_field] = " ".join(in_order)
        fields[char_field] = " ".join(chars)
    return fields
