"""The analysis stage as one object: Post in, Post with analysis fields out."""

from __future__ import annotations

from collections.abc import Sequence

from analysis.keywords import KeywordExtractor
from analysis.normalize import normalize, normalize_title
from analysis.schemes import SchemeMatcher
from analysis.segments import search_tokens, segment
from analysis.sentiment import MAX_CHARS, Featurizer, SentimentScorer
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
        segments = segment(text, self.tokenizer)
        tokens = search_tokens(segments)
        # Sentiment reads the head of a long text only; a short one (nearly all posts) shares the jieba pass.
        head = segments if len(text) <= MAX_CHARS else segment(text[:MAX_CHARS], self.tokenizer)
        prediction = self.sentiment.predict_features(Featurizer.from_segments(head))
        return post.model_copy(
            update={
                "title": title,
                "content": content,
                "tokens": tokens,
                "keywords": self.keywords.extract(tokens),
                "schemes": self.schemes.match(text),
                "sentiment": SentimentScorer.sentiment(prediction),
            }
        )
