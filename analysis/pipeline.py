"""The analysis stage as one object: Post in, Post with analysis fields out."""

from __future__ import annotations

from collections.abc import Sequence

from analysis.keywords import KeywordExtractor
from analysis.normalize import normalize, normalize_title
from analysis.schemes import SchemeMatcher
from analysis.sentiment import SentimentScorer
from analysis.tokens import Tokenizer
from settings import Scheme
from yuqing.models import Post


class Analyzer:
    def __init__(self, schemes: Sequence[Scheme] = ()) -> None:
        terms = [t for s in schemes for t in s.terms()]
        self.tokenizer = Tokenizer(terms)
        self.schemes = SchemeMatcher(schemes)
        self.keywords = KeywordExtractor(protected=terms)
        self.sentiment = SentimentScorer(self.tokenizer)

    def tokenize(self, text: str) -> list[str]:
        """For search queries: the same tokens the posts were indexed with."""
        return self.tokenizer.tokenize(text)

    def analyse(self, post: Post) -> Post:
        title, content = normalize_title(post.title), normalize(post.content)
        text = f"{title}\n{content}" if title else content
        tokens = self.tokenizer.tokenize(text)
        return post.model_copy(
            update={
                "title": title,
                "content": content,
                "tokens": tokens,
                "keywords": self.keywords.extract(tokens),
                "schemes": self.schemes.match(text),
                "sentiment": self.sentiment.score(text),
            }
        )
