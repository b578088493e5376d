"""The analysis stage as one object: Post in, Post with analysis fields out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from analysis.dedup import NearDuplicateIndex, SimHasher, to_hex
from analysis.events import EventClusterer
from analysis.hotterms import HotTerms
from analysis.keywords import KeywordExtractor
from analysis.normalize import normalize, normalize_title, to_simplified
from analysis.schemes import SchemeMatcher
from analysis.risk import RiskScorer
from analysis.segments import Segment, search_tokens, segment
from analysis.sentiment import MAX_CHARS, Featurizer, SentimentScorer
from analysis.tokens import Tokenizer
import settings as config
from settings import Risk, Scheme
from yuqing.models import Post


class Analyzer:
    def __init__(self, schemes: Sequence[Scheme] = (), risk: Risk | None = None,
                 sensitive_terms: Iterable[str] = ()) -> None:
        terms = [t for s in schemes for t in s.terms()]
        self.tokenizer = Tokenizer(terms)
        self.schemes = SchemeMatcher(schemes)
        self.keywords = KeywordExtractor(protected=terms)
        self.sentiment = SentimentScorer(self.tokenizer)
        self.simhash = SimHasher()
        # Remembers the fingerprints of the posts this analyser has seen (bounded): `dup_of` links a post
        # to an earlier one of the same run or stream.
        self.duplicates = NearDuplicateIndex()
        self.events = EventClusterer()
        self.risk = RiskScorer(risk or Risk(), sensitive_terms)
        self.hot_terms = HotTerms()

    @classmethod
    def from_settings(cls, settings: config.Settings) -> Analyzer:
        keyword_terms = [t for rule in settings.alerts.rules if rule.type == "keyword" for t in rule.terms]
        return cls(settings.schemes, settings.risk, keyword_terms)

    def _original(self, post_id: str, fingerprint: int | None, segments: list[Segment]) -> str | None:
        if fingerprint is None:
            return None
        original = self.duplicates.check_and_add(fingerprint, post_id)
        if original is None and len(segments) > 1:
            # A repost: the last part of its chain is the text it passes on.
            reposted = self.simhash.fingerprint(segments[-1].text)
            original = self.duplicates.find(reposted) if reposted is not None else None
        return original if original != post_id else None

    def tokenize(self, text: str) -> list[str]:
        """For search queries: the same tokens the posts were indexed with."""
        return self.tokenizer.tokenize(text)

    def analyse(self, post: Post) -> Post:
        title, content = normalize_title(post.title), normalize(post.content)
        text = to_simplified(f"{title}\n{content}" if title else content)
        segments = segment(text, self.tokenizer)
        tokens = search_tokens(segments)
        # Sentiment reads the head of a long text only; a short one (nearly all posts) shares the jieba pass.
        head = segments if len(text) <= MAX_CHARS else segment(text[:MAX_CHARS], self.tokenizer)
        prediction = self.sentiment.predict_features(Featurizer.from_segments(head))
        fingerprint = self.simhash.fingerprint(text)
        weighted = self.keywords.weighted(tokens)
        analysed = post.model_copy(
            update={
                "title": title,
                "content": content,
                "tokens": tokens,
                "keywords": [term for term, _ in weighted],
                "schemes": self.schemes.match_folded(text.lower()),
                "sentiment": SentimentScorer.sentiment(prediction),
                "simhash": to_hex(fingerprint) if fingerprint is not None else None,
                "dup_of": self._original(post.id, fingerprint, segments),
            }
        )
        event = self.events.assign(analysed, weighted)
        analysed.event_id = event.id if event else None
        analysed.risk = self.risk.score(analysed, event.growth_per_hour() if event else 0)
        self.hot_terms.add(analysed.time, analysed.keywords)
        if event is not None:
            event.risk = max(event.risk, analysed.risk)
        return analysed
