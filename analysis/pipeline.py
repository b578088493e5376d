"""The analysis stage as one object: Post in, Post with analysis fields out."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from analysis.dedup import NearDuplicateIndex, SimHasher, to_hex
from analysis.events import EventClusterer, EventTerms
from analysis.hotterms import HotTerms
from analysis.idf import IdfTable
from analysis.keywords import KeywordExtractor
from analysis.normalize import normalize, normalize_title, to_simplified
from analysis.official import OfficialMatcher
from analysis.schemes import SchemeMatcher
from analysis.risk import RiskScorer
from analysis.segments import Segment, search_tokens, segment
from analysis.sentiment import MAX_CHARS, NOTHING_TO_READ, Featurizer, Prediction, SentimentScorer, combined
from analysis.tokens import Tokenizer
import settings as config
from settings import Analysis, Official, Risk, Scheme
from models import Event, Post, now

log = logging.getLogger(__name__)
# Of a longer text only the head and the tail are analysed: what a post says is in them, and jieba's tokens
# of a whole 10 MB post would take over a gigabyte. The post itself is kept whole.
HEAD = TAIL = 50_000
KEYWORDS = 10  # a post's keywords
# A news report's headline and lead say what it is about; its body may dwell on the past it reports as
# overcome (往年污染严重……如今……), which read alone sounds negative, and a long body is read as neutral
# nearly always and with near certainty. The sentiment of a post with a headline or a long text is the
# weighted mean of the class probabilities of its headline, its lead and its whole text.
HEADLINE_WEIGHT, LEAD_WEIGHT, WHOLE_WEIGHT = 0.4, 0.4, 0.2
LEAD_MIN = 40  # a shorter first paragraph is a byline, a dateline or a caption, not the lead
LEAD_CHARS = 300
LONG_TEXT = 400  # a post without a headline this long may still have a lead


def truncated(post: Post) -> bool:
    """Whether only the head and tail of this (analysed) post's text were read."""
    return len(post.title) + bool(post.title) + len(post.content) > HEAD + TAIL


def _lead(content: str) -> str:
    """The first paragraph of a long text that says something (its head, if the paragraph is long)."""
    return next((line.strip()[:LEAD_CHARS] for line in content.splitlines() if len(line.strip()) >= LEAD_MIN), "")


def _headline_and_lead(title: str, content: str) -> tuple[list[tuple[str, float]], float]:
    """The parts of a post read apart from its whole text, with their weights, and the weight of the whole:
    no parts for a post that is only a headline, or a short text without one. A body with no lead of its
    own (one short paragraph) is its own lead, and weighs as much."""
    if not content or not title and len(content) < LONG_TEXT:
        return [], 1.0
    parts = [(to_simplified(title), HEADLINE_WEIGHT)] if title else []
    lead = _lead(content)
    if not lead or lead == content.strip():
        return parts, LEAD_WEIGHT + WHOLE_WEIGHT
    return parts + [(to_simplified(lead), LEAD_WEIGHT)], WHOLE_WEIGHT


def _analysed_text(post: Post, title: str, content: str) -> str:
    text = f"{title}\n{content}" if title else content
    if len(text) <= HEAD + TAIL:
        return to_simplified(text)
    log.warning("post %s: %s characters, only the first %s and the last %s analysed", post.id, f"{len(text):,}",
                f"{HEAD:,}", f"{TAIL:,}")
    return to_simplified(f"{text[:HEAD]}\n{text[-TAIL:]}")


class Analyzer:
    def __init__(self, schemes: Sequence[Scheme] = (), risk: Risk | None = None,
                 sensitive_terms: Iterable[str] = (), models: Analysis | None = None,
                 official: Official | None = None) -> None:
        terms = [t for s in schemes for t in s.terms()]
        models = models or Analysis()
        self.tokenizer = Tokenizer(terms)
        self.schemes = SchemeMatcher(schemes)
        self.keywords = KeywordExtractor(protected=terms, idf=IdfTable.load(models.idf_table) if models.idf_table else None,
                                         known=self.tokenizer.known)
        self.sentiment = SentimentScorer(self.tokenizer, models.sentiment_model)
        self.simhash = SimHasher()
        # Remembers the fingerprints of the posts this analyser has seen (bounded): `dup_of` links a post
        # to an earlier one of the same run or stream.
        self.duplicates = NearDuplicateIndex()
        self.events = EventClusterer()
        self.event_terms = EventTerms(terms)
        self.official = OfficialMatcher(official or Official())
        self.risk = RiskScorer(risk or Risk(), sensitive_terms)
        self.hot_terms = HotTerms()

    @classmethod
    def from_settings(cls, settings: config.Settings) -> Analyzer:
        keyword_terms = [t for rule in settings.alerts.rules if rule.type == "keyword" for t in rule.terms]
        try:
            return cls(settings.schemes, settings.risk, keyword_terms, settings.analysis, settings.official)
        except (OSError, ValueError) as exc:  # a model file that exists but cannot be read
            raise config.ConfigError(f"[analysis]: {exc}") from None

    def _original(self, post_id: str, fingerprint: int | None, passed_on: int | None) -> str | None:
        if fingerprint is None:
            return None
        original = self.duplicates.check_and_add(fingerprint, post_id)
        if original is None and passed_on is not None:
            original = self.duplicates.find(passed_on)
        return original if original != post_id else None

    def tokenize(self, text: str) -> list[str]:
        """For search queries: the same tokens the posts were indexed with."""
        return self.tokenizer.tokenize(text)

    def take_changed_events(self) -> list[Event]:
        """The events changed since the last call (to store them)."""
        return self.events.take_changed(now())

    def restore_events(self, events: Iterable[Event]) -> None:
        """Continue stored events (after a restart): later posts join them, under the same ids."""
        self.events.restore(events)

    def analyse(self, post: Post) -> Post:
        return self.analyse_many([post])[0]

    def analyse_many(self, posts: Sequence[Post]) -> list[Post]:
        """The same as `analyse` post by post, in order; sentiment and fingerprints are computed for the
        whole batch at once, which is where a batch is faster."""
        cleaned = [(normalize_title(p.title), normalize(p.content)) for p in posts]
        texts = [_analysed_text(post, *clean) for post, clean in zip(posts, cleaned)]
        segmented = [segment(text, self.tokenizer) for text in texts]
        # Sentiment reads the head of a long text only; a short one (nearly all posts) shares the jieba pass.
        heads = [segments if len(text) <= MAX_CHARS else segment(text[:MAX_CHARS], self.tokenizer)
                 for text, segments in zip(texts, segmented)]
        parts = [_headline_and_lead(*clean) for clean in cleaned]
        features = [Featurizer.from_segments(head) if text else None for text, head in zip(texts, heads)]
        features += [Featurizer.from_segments(segment(part, self.tokenizer)) for own, _ in parts for part, _ in own]
        predicted = self.sentiment.predict_many(features)
        predictions, rest = predicted[:len(posts)], iter(predicted[len(posts):])
        for i, (own, whole) in enumerate(parts):
            if own and predictions[i] is not None:
                # (`own` first: zip stops on it without taking the next post's prediction from `rest`)
                weighted = [(p, w) for (_, w), p in zip(own, rest) if p is not NOTHING_TO_READ]
                predictions[i] = combined(weighted + [(predictions[i], whole)])
        # A repost: the last part of its chain is the text it passes on, and may be an earlier post.
        reposts = [i for i, segments in enumerate(segmented) if len(segments) > 1]
        fingerprints = self.simhash.fingerprints(texts + [segmented[i][-1].text for i in reposts])
        passed_on: list[int | None] = [None] * len(posts)
        for i, fingerprint in zip(reposts, fingerprints[len(posts):]):
            passed_on[i] = fingerprint
        return [self._finish(*row) for row in zip(posts, cleaned, texts, segmented, predictions, fingerprints, passed_on)]

    def _finish(self, post: Post, cleaned: tuple[str, str], text: str, segments: list[Segment],
                prediction: Prediction | None, fingerprint: int | None, passed_on: int | None) -> Post:
        """What must follow the order of the posts: duplicates, events, hot terms."""
        tokens = search_tokens(segments)
        # More than a post keeps: the event's vector leaves out scheme terms and boilerplate, and still has ten.
        weighted = self.keywords.weighted(tokens, top=2 * KEYWORDS)
        folded = text.lower()
        analysed = post.model_copy(
            update={
                "title": cleaned[0],
                "content": cleaned[1],
                "tokens": tokens,
                "keywords": [term for term, _ in weighted[:KEYWORDS]],
                "schemes": self.schemes.match_folded(folded),
                "sentiment": SentimentScorer.sentiment(prediction),
                "simhash": to_hex(fingerprint) if fingerprint is not None else None,
                "dup_of": self._original(post.id, fingerprint, passed_on),
            }
        )
        analysed.official = self.official(analysed)
        vector = self.event_terms.vector(weighted, folded, analysed.scheme_names())
        event = self.events.assign(analysed, vector, analysed.dup_of)
        analysed.event_id = event.id if event else None
        analysed.risk = self.risk.score(analysed, event.growth_per_hour() if event else 0)
        self.hot_terms.add(analysed.time, analysed.keywords)
        if event is not None:
            event.risk = max(event.risk, analysed.risk)
        return analysed
