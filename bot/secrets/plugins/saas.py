"""detect-secrets plugins for AI providers, payment providers and other SaaS API keys.

detect-secrets loads this file by path (`file://…/saas.py` in `plugins_used`), so it imports
nothing from Ambient and every public class here must be a plugin. Each rule names the public
documentation of the format it was written from. Licence of every rule: the regexes are
Ambient's own (the project's licence); they restate token formats that the vendors publish.
"""

# ruff: noqa: S105 - `secret_type` names a kind of secret; it holds no secret.
from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector

_END = r"(?![A-Za-z0-9_-])"
_START = r"(?<![A-Za-z0-9_-])"


class AiProviderKeyDetector(RegexBasedDetector):
    """API keys of model providers (the built-in OpenAIDetector knows the legacy format only)."""

    secret_type = "AI Provider API Key"
    denylist = (
        # Source: OpenAI platform docs, "API keys" (project, service-account and admin keys
        # start "sk-proj-", "sk-svcacct-", "sk-admin-").
        re.compile(_START + r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}"),
        # Source: Anthropic docs, "API keys" ("sk-ant-api03-", admin keys "sk-ant-admin01-").
        re.compile(_START + r"sk-ant-(?:api|admin|sid|oat|ort)\d{2}-[A-Za-z0-9_-]{40,}"),
        # Source: Hugging Face docs, "User access tokens" ("hf_" + 34 letters) and org tokens.
        re.compile(_START + r"(?:hf_|api_org_)[A-Za-z]{34}" + _END),
        # Source: Groq console docs, "API keys" ("gsk_").
        re.compile(_START + r"gsk_[A-Za-z0-9]{52}" + _END),
        # Source: Replicate docs, "API tokens" ("r8_").
        re.compile(_START + r"r8_[A-Za-z0-9]{37}" + _END),
        # Source: Perplexity docs, "API key" ("pplx-").
        re.compile(_START + r"pplx-[A-Za-z0-9]{48}" + _END),
        # Source: xAI docs, "API keys" ("xai-").
        re.compile(_START + r"xai-[A-Za-z0-9]{80}" + _END),
        # Source: LangSmith docs, "API keys" ("lsv2_pt_", "lsv2_sk_").
        re.compile(_START + r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}" + _END),
    )


class PaymentKeyDetector(RegexBasedDetector):
    """Secret keys of payment and commerce providers."""

    secret_type = "Payment Provider Key"
    denylist = (
        # Source: Stripe docs, "API keys" (secret and restricted keys, test and live modes;
        # the built-in StripeDetector knows live keys of 24 characters only) and "Webhooks"
        # (signing secrets "whsec_").
        re.compile(_START + r"(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,247}" + _END),
        re.compile(_START + r"whsec_[A-Za-z0-9+/=]{32,}"),
        # Source: Square developer docs, "Access tokens" ("EAAA", sandbox "sq0atp-").
        re.compile(_START + r"sq0atp-[A-Za-z0-9_-]{22}" + _END),
        re.compile(_START + r"EAAA[A-Za-z0-9_+=-]{60}" + _END),
        # Source: Braintree docs, "Access tokens" (access_token$production$…).
        re.compile(r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}"),
        # Source: Flutterwave docs, "API keys" ("FLWSECK-…-X").
        re.compile(_START + r"FLWSECK(?:_TEST)?-[a-h0-9]{32}-X" + _END),
        # Source: Shopify dev docs, "Access tokens" (shpat_, shpca_, shppa_, shpss_).
        re.compile(_START + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _END),
        # Source: Plaid docs, "Access tokens" (access-<environment>-<uuid>).
        re.compile(
            _START + r"access-(?:sandbox|development|production)-"
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}" + _END
        ),
        # Source: EasyPost docs, "API keys" ("EZAK", "EZTK").
        re.compile(_START + r"EZ[AT]K[a-z0-9]{54}" + _END),
        # Source: Duffel docs, "Access tokens" ("duffel_test_", "duffel_live_").
        re.compile(_START + r"duffel_(?:test|live)_[A-Za-z0-9_=-]{43}" + _END),
        # Source: Shippo docs, "API tokens" ("shippo_live_", "shippo_test_").
        re.compile(_START + r"shippo_(?:live|test)_[a-f0-9]{40}" + _END),
    )


class SaasApiKeyDetector(RegexBasedDetector):
    """API keys of e-mail, collaboration, design, social and analytics services."""

    secret_type = "SaaS API Key"
    denylist = (
        # Source: Mailgun docs, "API keys" ("key-" + 32 hex).
        re.compile(_START + r"key-[0-9a-f]{32}" + _END),
        # Source: Brevo (Sendinblue) docs, "API keys" ("xkeysib-").
        re.compile(_START + r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}" + _END),
        # Source: Postman docs, "Postman API keys" ("PMAK-").
        re.compile(_START + r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}" + _END),
        # Source: Notion developers, "Authorization" (internal integration secrets "secret_",
        # since 2024 "ntn_").
        re.compile(_START + r"secret_[A-Za-z0-9]{43}" + _END),
        re.compile(_START + r"ntn_[0-9]{11}[A-Za-z0-9]{35}" + _END),
        # Source: Airtable support, "Personal access tokens" (pat<14>.<64 hex>).
        re.compile(_START + r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}" + _END),
        # Source: Mapbox docs, "Access tokens" (secret tokens "sk.eyJ"; "pk." tokens are public).
        re.compile(_START + r"sk\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}"),
        # Source: Dropbox developers, "OAuth guide" (short-lived access tokens "sl.").
        re.compile(_START + r"sl\.[A-Za-z0-9_.-]{130,}"),
        # Source: Contentful docs, "Personal access tokens" ("CFPAT-").
        re.compile(_START + r"CFPAT-[A-Za-z0-9_-]{43}" + _END),
        # Source: Typeform developers, "Personal access token" ("tfp_").
        re.compile(_START + r"tfp_[A-Za-z0-9_.=-]{59}" + _END),
        # Source: X developer docs, "Bearer tokens" (app-only tokens open with 21 "A").
        re.compile(r"AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,}"),
        # Source: Meta for Developers, "Access tokens" (user and page tokens start "EAA").
        re.compile(_START + r"EAA[A-Za-z0-9]{90,}" + _END),
        # Source: Figma developers, "Personal access tokens" ("figd_").
        re.compile(_START + r"figd_[A-Za-z0-9_-]{40}" + _END),
        # Source: HubSpot developers, "Private app access tokens" (pat-na1-<uuid>).
        re.compile(
            _START + r"pat-(?:na|eu)\d-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"
        ),
        # Source: ReadMe docs, "API keys" ("rdme_").
        re.compile(_START + r"rdme_[a-z0-9]{70}" + _END),
        # Source: Frame.io developer docs, "Developer tokens" ("fio-u-").
        re.compile(_START + r"fio-u-[A-Za-z0-9_=-]{64}" + _END),
        # Source: Infracost docs, "API keys" ("ico-").
        re.compile(_START + r"ico-[A-Za-z0-9]{32}" + _END),
        # Source: Adobe developer docs, "OAuth server-to-server credentials" ("p8e-").
        re.compile(_START + r"p8e-[A-Za-z0-9]{32}" + _END),
        # Source: Discord developer docs, "Webhook resource" (webhook URLs carry their token).
        re.compile(r"discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{60,}"),
        # Source: Microsoft Learn, "Create incoming webhooks" (Teams webhook URLs).
        re.compile(r"\.webhook\.office\.com/webhookb2/[A-Za-z0-9@/-]{60,}"),
        # Source: Adafruit IO docs, "Your Adafruit IO Key" ("aio_" + 28 characters).
        re.compile(_START + r"aio_[A-Za-z0-9]{28}" + _END),
        # Source: Microsoft Learn, "Use personal access tokens" (Azure DevOps PATs since 2024:
        # 84 characters with the "AZDO" signature at offset 76).
        re.compile(
            r"(?<![A-Za-z0-9])[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9]{18}AZDO[A-Za-z0-9]{4}(?![A-Za-z0-9])"
        ),
        # Source: Microsoft Learn, legacy Office 365 connector webhooks
        # (outlook.office.com/webhook/<group>@<tenant>/IncomingWebhook/<id>/<owner>).
        re.compile(
            r"outlook\.office(?:365)?\.com/webhook/[0-9a-f-]{36}@[0-9a-f-]{36}"
            r"/IncomingWebhook/[0-9a-f]{32}/[0-9a-f-]{36}"
        ),
    )
