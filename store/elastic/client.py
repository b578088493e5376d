"""The Elasticsearch client made from the [store] section, and the cluster's errors said as what they mean."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from elastic_transport import BaseNode, ConnectionError, ConnectionTimeout, SerializationError, Urllib3HttpNode
from elasticsearch import (ApiError, AuthenticationException, AuthorizationException, Elasticsearch,
                           UnsupportedProductError)

from store.base import StoreError

if TYPE_CHECKING:
    import settings

# The HTTP layer under the client. Tests against osmem-server (an OpenSearch-compatible stand-in) swap in one
# that sends plain JSON media types: see tests/store/osmem.py for why.
NODE_CLASS: type[BaseNode] = Urllib3HttpNode
RETRIES = 2  # of a request that met a connection error or timeout, on the next node (or the same one)


def connect(section: settings.Store) -> Elasticsearch:
    """A client for the configured nodes; it connects at its first request, not here."""
    options: dict[str, Any] = {}
    if section.api_key:
        options["api_key"] = section.api_key
    elif section.username:
        options["basic_auth"] = (section.username, section.password)
    if any(url.startswith("https:") for url in section.url):  # TLS options are refused on plain http nodes
        options["verify_certs"] = section.verify_certs
        if section.ca_certs:
            options["ca_certs"] = str(section.ca_certs)
    return Elasticsearch(section.url, node_class=NODE_CLASS, request_timeout=section.request_timeout,
                         max_retries=RETRIES, retry_on_timeout=True, **options)


def shown(urls: list[str]) -> str:
    """The nodes' addresses for messages: without any user:password written into them."""
    out = []
    for url in urls:
        parts = urlsplit(url)
        out.append(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))
    return ", ".join(out)


def reason(body: Any, fallback: str = "") -> str:
    """`type: reason` of an error body (the root cause, which says most), one line."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        causes = error.get("root_cause") or [error]
        cause = causes[0] if isinstance(causes[0], dict) else error
        text = f"{cause.get('type', 'error')}: {cause.get('reason', '')}".rstrip(": ")
    else:
        text = str(error or fallback or body)
    return " ".join(text.split())[:300]


# What a connection error comes to, out of the layers of wrapping it arrives in.
_WHY = re.compile(r"\[Errno -?\d+\] [^)'\"]+|certificate verify failed[^)'\"]*|[Cc]onnection (refused|reset)[^)'\"]*")


def _why(exc: Exception) -> str:
    found = _WHY.search(str(exc))
    return found.group(0).strip() if found else " ".join(str(exc).split())[:200]


@contextmanager
def said(where: str, timeout: float) -> Iterator[None]:
    """The client's exceptions as one StoreError that names the cluster and what to do."""
    try:
        yield
    except ConnectionTimeout:
        raise StoreError(f"the Elasticsearch cluster at {where} did not answer within {timeout:g}s") from None
    except ConnectionError as exc:
        raise StoreError(f"the Elasticsearch cluster at {where} cannot be reached ({_why(exc)})") from None
    except AuthenticationException:
        raise StoreError(f"the Elasticsearch cluster at {where} refused yuqing's credentials: check [store] "
                         "api_key (YUQING_STORE__API_KEY), or username and YUQING_STORE__PASSWORD") from None
    except AuthorizationException as exc:
        raise StoreError(f"the Elasticsearch cluster at {where} refused: {reason(exc.body, exc.message)}") from None
    except UnsupportedProductError:
        raise StoreError(f"{where} is not an Elasticsearch cluster; [store] url must name Elasticsearch nodes") from None
    except ApiError as exc:
        raise StoreError(f"the Elasticsearch cluster at {where} answered {exc.meta.status}: "
                         f"{reason(exc.body, exc.message)}") from None
    except SerializationError as exc:
        raise StoreError(f"the answer of the Elasticsearch cluster at {where} could not be read ({exc})") from None
