"""detect-secrets plugins for cloud providers, code hosts and package registries.

detect-secrets loads this file by path (`file://…/cloud.py` in `plugins_used`), so it imports
nothing from Ambient and every public class here must be a plugin. Each rule names the public
documentation of the format it was written from. Licence of every rule: the regexes are
Ambient's own (the project's licence); they restate token formats that the vendors publish.
"""

# ruff: noqa: S105 - `secret_type` names a kind of secret; it holds no secret.
from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector

# Tokens end where the token alphabet ends; a longer run is some other string.
_END = r"(?![A-Za-z0-9_-])"
_START = r"(?<![A-Za-z0-9_-])"


class AwsSecretDetector(RegexBasedDetector):
    """AWS secret access keys written without quotes, and STS session tokens."""

    secret_type = "AWS Secret Access Key"
    denylist = (
        # Source: AWS IAM User Guide, "Manage access keys": a secret access key is 40 characters
        # of base64. detect-secrets' AWSKeyDetector needs quotes; .env and ini files have none.
        re.compile(
            r"(?i)aws[\w.-]{0,20}?(?:secret|private)[\w.-]{0,20}?[\"']?\s*(?:=|:|=>|:=)\s*"
            r"[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        # Source: AWS STS API reference, "Credentials" (SessionToken); tokens issued by STS open
        # with the base64 of their fixed header ("FwoGZXIvYXdzE" / "IQoJb3JpZ2luX2Vj").
        re.compile(r"(?:FwoGZXIvYXdzE|IQoJb3JpZ2luX2Vj)[A-Za-z0-9/+=]{80,}"),
    )


class GoogleCloudDetector(RegexBasedDetector):
    """Google API keys, OAuth client secrets, access and refresh tokens."""

    secret_type = "Google Cloud Credential"
    denylist = (
        # Source: Google Cloud docs, "Manage API keys" (keys start with "AIza", 39 characters).
        re.compile(_START + r"AIza[0-9A-Za-z_-]{35}" + _END),
        # Source: Google Identity docs, "OAuth 2.0 client secret" format change (2021): "GOCSPX-".
        re.compile(_START + r"GOCSPX-[0-9A-Za-z_-]{28}" + _END),
        # Source: Google Identity docs, "Using OAuth 2.0": access tokens start with "ya29.",
        # refresh tokens with "1//".
        re.compile(_START + r"ya29\.[0-9A-Za-z_-]{30,}"),
        re.compile(r"(?<![\w/:])1//0[0-9A-Za-z_-]{40,}"),
    )


class AzureDetector(RegexBasedDetector):
    """Entra ID client secrets, shared access keys and SAS signatures."""

    secret_type = "Azure Credential"
    denylist = (
        # Source: Microsoft Learn, "Microsoft Entra application client secrets" (the current
        # format carries "Q~" after three characters and a digit).
        re.compile(r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])"),
        # Source: Microsoft Learn, "Azure Service Bus / Event Hubs connection strings" and
        # "Configure Azure Storage connection strings" (SharedAccessKey / AccountKey = base64).
        re.compile(
            r"(?i)(?:SharedAccessKey|AccountKey|PrimaryKey|SecondaryKey)\s*=\s*"
            r"([A-Za-z0-9+/]{40,86}={0,2})"
        ),
        # Source: Microsoft Learn, "Create a service SAS": the `sig` query parameter.
        re.compile(r"[?&]sig=([A-Za-z0-9%+/]{40,}(?:%3D|=){0,2})"),
    )


class CodeHostTokenDetector(RegexBasedDetector):
    """GitHub and GitLab tokens, Atlassian, Bitbucket and Sourcegraph tokens."""

    secret_type = "Code Host Token"
    denylist = (
        # Source: GitHub Docs, "About authentication to GitHub", token prefixes ghp_, gho_,
        # ghu_, ghs_, ghr_ and 36 characters. Replaces the built-in GitHubTokenDetector, whose
        # capture group reports only the prefix as the secret (so every hash is the same).
        re.compile(_START + r"gh[pousr]_[A-Za-z0-9]{36}" + _END),
        # Source: detect-secrets' GitLabTokenDetector (Apache-2.0), after GitLab Docs "Token
        # overview": the same prefixes and lengths, with the capture groups made non-capturing
        # so that the whole token is the secret. Replaces the built-in for the reason above.
        re.compile(r"(?:glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_\-]{20,50}(?!\w)"),
        re.compile(r"GR1348941[A-Za-z0-9_\-]{20,50}(?!\w)"),
        re.compile(r"glcbt-(?:[0-9a-fA-F]{2}_)?[A-Za-z0-9_\-]{20,50}(?!\w)"),
        re.compile(r"glimt-[A-Za-z0-9_\-]{25}(?!\w)"),
        re.compile(r"glptt-[A-Za-z0-9_\-]{40}(?!\w)"),
        re.compile(r"glagent-[A-Za-z0-9_\-]{50,1024}(?!\w)"),
        re.compile(r"gloas-[A-Za-z0-9_\-]{64}(?!\w)"),
        # Source: GitHub Docs, "About authentication to GitHub" (fine-grained PATs start with
        # "github_pat_"); the built-in GitHubTokenDetector knows only the ghp_/gho_/… prefixes.
        re.compile(_START + r"github_pat_[A-Za-z0-9_]{70,100}" + _END),
        # Source: Atlassian support, "Manage API tokens for your Atlassian account" (ATATT3…).
        re.compile(_START + r"ATATT3[A-Za-z0-9_=-]{150,}"),
        # Source: Bitbucket Cloud docs, "Repository / workspace access tokens" (ATCTT3…).
        re.compile(_START + r"ATCTT3[A-Za-z0-9_=-]{150,}"),
        # Source: Sourcegraph docs, "Access tokens" (sgp_ with optional instance id).
        re.compile(_START + r"sgp_(?:[a-fA-F0-9]{16}_)?[a-fA-F0-9]{40}" + _END),
    )


class SlackExtraDetector(RegexBasedDetector):
    """Slack token kinds that the built-in SlackDetector does not know."""

    secret_type = "Slack App, Config or Refresh Token"
    denylist = (
        # Source: Slack API docs, "Token types" (app-level tokens "xapp-", configuration
        # tokens "xoxe.xoxp-", refresh tokens "xoxe-").
        re.compile(_START + r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+" + _END),
        re.compile(_START + r"xoxe\.xox[bp]-\d-[A-Za-z0-9]{100,}"),
        re.compile(_START + r"xoxe-\d-[A-Za-z0-9]{100,}"),
        # Source: Slack help, "Workflow Builder: webhook triggers".
        re.compile(
            r"https://hooks\.slack\.com/(?:workflows|triggers)/T[A-Z0-9]+/[A-Za-z0-9/]{20,}"
        ),
    )


class PackageRegistryDetector(RegexBasedDetector):
    """Publish tokens of package registries and infrastructure-as-code registries."""

    secret_type = "Package Registry Token"
    denylist = (
        # Source: npm Docs, "About access tokens" (granular and classic tokens start "npm_").
        re.compile(_START + r"npm_[A-Za-z0-9]{36}" + _END),
        # Source: RubyGems Guides, "API key scopes" (keys start "rubygems_").
        re.compile(_START + r"rubygems_[a-f0-9]{48}" + _END),
        # Source: crates.io, "API tokens" (tokens start "cio").
        re.compile(_START + r"cio[A-Za-z0-9]{32}" + _END),
        # Source: NuGet docs, "Scoped API keys" (keys start "oy2").
        re.compile(_START + r"oy2[a-z0-9]{43}" + _END),
        # Source: Clojars wiki, "Deploy tokens" (tokens start "CLOJARS_").
        re.compile(_START + r"CLOJARS_[a-z0-9]{60}" + _END),
        # Source: Docker Docs, "Personal access tokens" (tokens start "dckr_pat_").
        re.compile(_START + r"dckr_pat_[A-Za-z0-9_-]{27}" + _END),
        # Source: HashiCorp Terraform docs, "API tokens" (<14>.atlasv1.<60+>).
        re.compile(_START + r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}" + _END),
        # Source: Pulumi docs, "Access tokens" (tokens start "pul-").
        re.compile(_START + r"pul-[a-f0-9]{40}" + _END),
    )


class PlatformTokenDetector(RegexBasedDetector):
    """API tokens of hosting, secrets-management and observability platforms."""

    secret_type = "Platform API Token"
    denylist = (
        # Source: DigitalOcean docs, "How to create a personal access token" (dop_v1_, doo_v1_,
        # dor_v1_ followed by 64 hex).
        re.compile(_START + r"do[opr]_v1_[a-f0-9]{64}" + _END),
        # Source: Heroku Dev Center, "Heroku API tokens" (new format "HRKU-").
        re.compile(_START + r"HRKU-[A-Za-z0-9_-]{60}" + _END),
        # Source: HashiCorp Vault docs, "Tokens" (service tokens "hvs.", batch "hvb.",
        # recovery "hvr.").
        re.compile(_START + r"hv[sbr]\.[A-Za-z0-9_-]{24,}"),
        # Source: Fly.io docs, "Access tokens" ("fo1_" org tokens, "FlyV1 fm2_" macaroons).
        re.compile(_START + r"fo1_[A-Za-z0-9_-]{43}" + _END),
        re.compile(r"FlyV1 fm\d_[A-Za-z0-9+/=,_-]{100,}"),
        # Source: Doppler docs, "Token formats" (dp.pt., dp.st., dp.sa., dp.ct., dp.scim.).
        re.compile(_START + r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}" + _END),
        # Source: Databricks docs, "Personal access tokens" ("dapi" + 32 hex).
        re.compile(_START + r"dapi[a-f0-9]{32}(?:-\d)?" + _END),
        # Source: Dynatrace docs, "Access tokens" (dt0c01.<24>.<64>).
        re.compile(_START + r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}" + _END),
        # Source: Grafana docs, "Cloud access policies" ("glc_") and "Service accounts" ("glsa_").
        re.compile(_START + r"glc_[A-Za-z0-9+/]{32,400}={0,2}"),
        re.compile(_START + r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}" + _END),
        # Source: New Relic docs, "API keys" (user keys "NRAK-").
        re.compile(_START + r"NRAK-[A-Z0-9]{27}" + _END),
        # Source: Sentry docs, "Auth tokens" (org tokens "sntrys_", user tokens "sntryu_").
        re.compile(_START + r"sntrys_eyJ[A-Za-z0-9+/=_-]{50,}"),
        re.compile(_START + r"sntryu_[a-f0-9]{64}" + _END),
        # Source: Tailscale docs, "API keys / Auth keys" (tskey-<kind>-<id>-<secret>).
        re.compile(
            _START + r"tskey-(?:api|auth|client|webhook|scim)-[A-Za-z0-9]{6,}-[A-Za-z0-9]{20,}"
        ),
        # Source: Supabase docs, "Access tokens" ("sbp_") and "API keys" ("sb_secret_").
        re.compile(_START + r"sbp_[a-f0-9]{40}" + _END),
        re.compile(_START + r"sb_secret_[A-Za-z0-9_-]{31,}"),
        # Source: PlanetScale docs, "Service tokens" and passwords ("pscale_tkn_", "pscale_pw_").
        re.compile(_START + r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64}" + _END),
        # Source: Cloudflare docs, "Origin CA keys" ("v1.0-").
        re.compile(_START + r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}" + _END),
        # Source: Alibaba Cloud docs, "AccessKey pairs" (AccessKey IDs start "LTAI").
        re.compile(_START + r"LTAI[A-Za-z0-9]{12,20}" + _END),
        # Source: OpenShift docs, "Using tokens" ("sha256~" OAuth access tokens).
        re.compile(_START + r"sha256~[A-Za-z0-9_-]{43}" + _END),
        # Source: 1Password developer docs, "Service accounts" ("ops_eyJ").
        re.compile(_START + r"ops_eyJ[A-Za-z0-9+/=_-]{100,}"),
        # Source: Harness docs, "API keys and tokens" (pat.<account>.<id>.<secret>).
        re.compile(_START + r"pat\.[A-Za-z0-9_-]{22}\.[0-9a-f]{24}\.[A-Za-z0-9]{20}" + _END),
        # Source: Octopus Deploy docs, "How to create an API key" ("API-" + 26 upper-case).
        re.compile(r"(?<![A-Za-z0-9_-])API-[A-Z0-9]{26}" + _END),
        # Source: Prefect docs, "API keys" ("pnu_").
        re.compile(_START + r"pnu_[A-Za-z0-9]{36}" + _END),
        # Source: Linear developers docs, "Personal API keys" ("lin_api_").
        re.compile(_START + r"lin_api_[A-Za-z0-9]{40}" + _END),
    )
