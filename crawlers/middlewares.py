"""Downloader middlewares."""

from __future__ import annotations

import re

import scrapy
from charset_normalizer import from_bytes
from scrapy.http import HtmlResponse, Response

_DECLARED = re.compile(rb"<meta[^>]+charset\s*=", re.IGNORECASE)


class EncodingFallbackMiddleware:
    """Pages that declare no encoding and are not UTF-8 (often GBK/GB18030 on Chinese sites) would be
    read by Scrapy as cp1252 and turn into mojibake; detect their encoding instead."""

    def process_response(self, request: scrapy.Request, response: Response, spider: scrapy.Spider) -> Response:
        if not isinstance(response, HtmlResponse):
            return response
        content_type = response.headers.get("Content-Type", b"").lower()
        if b"charset=" in content_type or _DECLARED.search(response.body[:4096]):
            return response
        try:
            response.body.decode("utf-8")
            return response
        except UnicodeDecodeError:
            pass
        best = from_bytes(response.body[:200_000]).best()
        encoding = best.encoding if best else "gb18030"
        # GBK and GB2312 are subsets of GB18030: decoding with the superset loses nothing.
        if encoding in ("gbk", "gb2312", "cp936"):
            encoding = "gb18030"
        return response.replace(encoding=encoding)
