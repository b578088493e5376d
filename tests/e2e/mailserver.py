"""A real SMTP server in a process of its own, for tests that stop it (SIGSTOP) or kill it:
`python -m tests.e2e.mailserver FOLDER PORT` keeps every message under FOLDER until it is terminated."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from yuqing.demo.mailsink import MailSink

if __name__ == "__main__":
    with MailSink(Path(sys.argv[1]), port=int(sys.argv[2])):
        print("ready", flush=True)
        threading.Event().wait()
