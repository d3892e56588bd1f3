"""Does a file the agent wrote hold a secret? The worker's own (exact values) or anything shaped like a credential.

Credential shapes come from ``detect-secrets`` (Yelp, maintained), its pattern plugins run line by line on the
file's text. Only the plugins that match a credential's own format are used; the keyword and entropy plugins
(``KeywordDetector``, ``Base64HighEntropyString``, ``HexHighEntropyString``, and the keyword-driven
``CloudantDetector``, ``IbmCloudIamDetector``, ``IbmCosHmacDetector``, ``SoftlayerDetector``) and
``IPPublicDetector`` flag ordinary test code (hashes, fixtures, ``password = "x"`` test data) and would drop good
tests. detect-secrets' allowlist comments (``# pragma: allowlist secret``) are not honoured: the author of the
file is the party being checked. NATS nkey seeds, which no plugin knows, are matched here.
"""

from __future__ import annotations

import re

from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from handoff.common.secrets import Redactor

PLUGINS: tuple[type[BasePlugin], ...] = (
    ArtifactoryDetector,
    AWSKeyDetector,
    AzureStorageKeyDetector,
    BasicAuthDetector,
    DiscordBotTokenDetector,
    GitHubTokenDetector,
    GitLabTokenDetector,
    JwtTokenDetector,
    MailchimpDetector,
    NpmDetector,
    OpenAIDetector,
    PrivateKeyDetector,
    PypiTokenDetector,
    SendGridDetector,
    SlackDetector,
    SquareOAuthDetector,
    StripeDetector,
    TelegramBotTokenDetector,
    TwilioKeyDetector,
)
NKEY_SEED = re.compile(r"\bS[UAOCNPX][A-Z2-7]{56}\b")
"""A NATS nkey seed (user, account, operator, cluster, server, curve keys): 'S', the type, 56 base32 letters."""
MAX_LINE_CHARS = 4096
"""Longer lines are scanned in pieces of this size (with overlap), so no pattern runs over megabytes at once."""


class SecretScanner:
    def __init__(self, redact: Redactor) -> None:
        self._redact = redact
        self._plugins = [plugin() for plugin in PLUGINS]

    def finding(self, name: str, data: bytes) -> str | None:
        """What ``data`` (the content of file ``name``) holds, named without its value; None when clean."""
        if self._redact.found_in(data):
            return "a secret configured on this worker"
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for piece in _pieces(line):
                if NKEY_SEED.search(piece):
                    return f"a NATS nkey seed (line {number})"
                for plugin in self._plugins:
                    if plugin.analyze_line(filename=name, line=piece, line_number=number):
                        return f"{plugin.secret_type} (line {number})"
        return None


def _pieces(line: str) -> list[str]:
    if len(line) <= MAX_LINE_CHARS:
        return [line]
    step = MAX_LINE_CHARS // 2
    return [line[i : i + MAX_LINE_CHARS] for i in range(0, len(line) - step, step)]
