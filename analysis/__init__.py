"""Text analysis: normalise, tokenise (jieba), sentiment (SnowNLP), keywords, watch-scheme matching.

Knows nothing about HTTP or storage: it takes a Post and returns it with analysis fields added.
"""
