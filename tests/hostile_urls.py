"""Links a feed may carry that must never become a link, and ones that must."""

HOSTILE = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "  javascript:alert(1)",
    "\x01javascript:alert(1)",
    "\x1f javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\rscript:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "javascript://%0aalert(1)",
    "javascript:http://127.0.0.1/",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    " DATA:text/html,<script>alert(1)</script>",
    "ｊavascript:alert(1)",
    "httpſ://127.0.0.1/",
    "http:javascript:alert(1)",
    "//127.0.0.1/protocol-relative",
    "file:///etc/passwd",
    "https://127.0.0.1/a\njavascript:alert(1)",
    " https://127.0.0.1/leading-space",
    "",
]

SAFE = [
    "http://127.0.0.1/n/1.html",
    "HTTPS://Example.com/a?b=1&c=<2>",
    "https://例子.cn/新闻/1",
    'https://127.0.0.1/x"onmouseover="alert(1)',
]
