"""Labelled secret / look-alike cases for the secret gate's tests and benchmark.

Two sources (see PROVENANCE.md):

- `upstream_cases()`: detect-secrets' own plugin-test expectations, vendored in
  `upstream_cases.jsonl.gz` (Apache-2.0). Ambient's rules were never tuned on them.
- `format_cases(split)`: Ambient's cases, generated here from the token formats that vendors
  document (prefix, alphabet, length), each written into a line of code or config. Values are
  random (seeded), so no real credential is stored and the repository holds no token-shaped
  literal. `split="tune"` is what the rules were developed against; `split="holdout"` uses other
  seeds, line templates and look-alike lines; its errors informed one round of fixes, after
  which `split="fresh"` (new seed, templates and look-alikes, written before that round was
  measured) was measured once. PROVENANCE.md records the figures of each step.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPLITS = ("tune", "holdout", "fresh", "final")

A = string.ascii_letters + string.digits
LOW = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
UP = string.ascii_uppercase + string.digits
URL = A + "-_"
B64 = A + "+/"
B32 = string.ascii_uppercase + "234567"
BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l".upper()
SYM = A + "!#%^&*-_+=?"


@dataclass(frozen=True)
class Case:
    """One labelled line (or block): `secret` is the ground truth."""

    id: str
    source: str
    split: str
    family: str
    file: str
    text: str
    secret: bool


def upstream_cases() -> list[Case]:
    """detect-secrets' plugin-test lines that are about credentials (public IPs left out)."""
    path = HERE / "upstream_cases.jsonl.gz"
    rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    return [
        Case(
            id=row["id"],
            source="detect-secrets",
            split="holdout",
            family=row["plugin_test"],
            file=row["file"],
            text=row["text"],
            secret=row["secret"],
        )
        for row in rows
        if row["in_scope"]
    ]


def noseyparker_cases() -> list[Case]:
    """Nosey Parker's rule examples (secrets) and negative examples (look-alikes), by split."""
    path = HERE / "noseyparker_cases.jsonl.gz"
    rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    return [
        Case(
            id=row["id"],
            source="noseyparker",
            split=row["split"],
            family=row["rules"][0].split(":")[0],
            file="example.txt",
            text=row["text"],
            secret=row["secret"],
        )
        for row in rows
        if row["in_scope"]
    ]


def _t(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(rng: random.Random) -> str:
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = {"sub": _t(rng, LOW, 12), "iat": rng.randrange(1_600_000_000, 1_700_000_000)}
    return f"{head}.{_b64url(json.dumps(body).encode())}.{_t(rng, URL, 43)}"


def _key_block(rng: random.Random, label: str) -> str:
    body = "\n".join(_t(rng, B64, 64) for _ in range(3))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


Maker = Callable[[random.Random], str]
# (family, value maker, variable names; names=None means the value must be found without one)
_NEUTRAL = ["value", "conf", "data", "DEFAULT"]
FORMATS: list[tuple[str, Maker, list[str]]] = [
    ("github-classic", lambda r: r.choice(["ghp", "gho", "ghu", "ghs", "ghr"]) + "_" + _t(r, A, 36), ["GITHUB_TOKEN", "gh_token"]),
    ("github-fine-grained", lambda r: "github_pat_" + _t(r, A, 22) + "_" + _t(r, A, 59), ["GH_PAT"]),
    ("gitlab", lambda r: "glpat-" + _t(r, URL, 20), ["GITLAB_TOKEN"]),
    ("aws-key-id", lambda r: r.choice(["AKIA", "ASIA"]) + _t(r, B32, 16), ["AWS_ACCESS_KEY_ID"]),
    ("gcp-api-key", lambda r: "AIza" + _t(r, URL, 35), ["GOOGLE_API_KEY", "apiKey"]),
    ("gcp-oauth-secret", lambda r: "GOCSPX-" + _t(r, URL, 28), ["GOOGLE_CLIENT_SECRET"]),
    ("gcp-access-token", lambda r: "ya29." + _t(r, URL, 100), ["access_token"]),
    ("azure-client-secret", lambda r: _t(r, A + "_~.", 3) + r.choice(string.digits) + "Q~" + _t(r, A + "_~.-", 34), ["AZURE_CLIENT_SECRET"]),
    ("azure-storage", lambda r: "DefaultEndpointsProtocol=https;AccountName=" + _t(r, LOW, 10) + ";AccountKey=" + _t(r, B64, 86) + "==;EndpointSuffix=core.windows.net", ["AZURE_STORAGE_CONNECTION_STRING"]),
    ("slack-bot", lambda r: "xoxb-" + _t(r, string.digits, 11) + "-" + _t(r, string.digits, 12) + "-" + _t(r, A, 24), ["SLACK_BOT_TOKEN"]),
    ("slack-webhook", lambda r: "https://hooks.slack.com/services/T" + _t(r, UP, 8) + "/B" + _t(r, UP, 10) + "/" + _t(r, A, 24), ["SLACK_WEBHOOK_URL"]),
    ("slack-app", lambda r: "xapp-1-A" + _t(r, UP, 10) + "-" + _t(r, string.digits, 13) + "-" + _t(r, HEX, 64), ["SLACK_APP_TOKEN"]),
    ("stripe", lambda r: r.choice(["sk_live_", "sk_test_", "rk_live_"]) + _t(r, A, r.choice([24, 99])), ["STRIPE_SECRET_KEY"]),
    ("stripe-webhook", lambda r: "whsec_" + _t(r, A, 32), ["STRIPE_WEBHOOK_SECRET"]),
    ("npm", lambda r: "npm_" + _t(r, A, 36), ["NPM_TOKEN"]),
    ("pypi", lambda r: "pypi-AgEIcHlwaS5vcmc" + _t(r, URL, 120), ["PYPI_API_TOKEN", "password"]),
    ("sendgrid", lambda r: "SG." + _t(r, URL, 22) + "." + _t(r, URL, 43), ["SENDGRID_API_KEY"]),
    ("twilio", lambda r: "SK" + _t(r, HEX, 32), ["TWILIO_API_KEY"]),
    ("openai-legacy", lambda r: "sk-" + _t(r, A, 20) + "T3BlbkFJ" + _t(r, A, 20), ["OPENAI_API_KEY"]),
    ("openai-project", lambda r: "sk-proj-" + _t(r, URL, 48) + "T3BlbkFJ" + _t(r, URL, 48), ["OPENAI_API_KEY"]),
    ("anthropic", lambda r: "sk-ant-api03-" + _t(r, URL, 93) + "AA", ["ANTHROPIC_API_KEY"]),
    ("huggingface", lambda r: "hf_" + _t(r, string.ascii_letters, 34), ["HF_TOKEN"]),
    ("groq", lambda r: "gsk_" + _t(r, A, 52), ["GROQ_API_KEY"]),
    ("replicate", lambda r: "r8_" + _t(r, A, 37), ["REPLICATE_API_TOKEN"]),
    ("digitalocean", lambda r: "dop_v1_" + _t(r, HEX, 64), ["DIGITALOCEAN_TOKEN"]),
    ("vault", lambda r: "hvs." + _t(r, URL, 90), ["VAULT_TOKEN"]),
    ("databricks", lambda r: "dapi" + _t(r, HEX, 32), ["DATABRICKS_TOKEN"]),
    ("doppler", lambda r: "dp.pt." + _t(r, A, 43), ["DOPPLER_TOKEN"]),
    ("shopify", lambda r: "shpat_" + _t(r, HEX, 32), ["SHOPIFY_ACCESS_TOKEN"]),
    ("square", lambda r: "EAAA" + _t(r, URL, 60), ["SQUARE_ACCESS_TOKEN"]),
    ("mailgun", lambda r: "key-" + _t(r, HEX, 32), ["MAILGUN_API_KEY"]),
    ("postman", lambda r: "PMAK-" + _t(r, HEX, 24) + "-" + _t(r, HEX, 34), ["POSTMAN_API_KEY"]),
    ("dockerhub", lambda r: "dckr_pat_" + _t(r, URL, 27), ["DOCKERHUB_TOKEN"]),
    ("rubygems", lambda r: "rubygems_" + _t(r, HEX, 48), ["GEM_HOST_API_KEY"]),
    ("pulumi", lambda r: "pul-" + _t(r, HEX, 40), ["PULUMI_ACCESS_TOKEN"]),
    ("grafana", lambda r: "glsa_" + _t(r, A, 32) + "_" + _t(r, HEX, 8), ["GRAFANA_TOKEN"]),
    ("sentry", lambda r: "sntryu_" + _t(r, HEX, 64), ["SENTRY_AUTH_TOKEN"]),
    ("newrelic", lambda r: "NRAK-" + _t(r, UP, 27), ["NEW_RELIC_API_KEY"]),
    ("linear", lambda r: "lin_api_" + _t(r, A, 40), ["LINEAR_API_KEY"]),
    ("notion", lambda r: "ntn_" + _t(r, string.digits, 11) + _t(r, A, 35), ["NOTION_TOKEN"]),
    ("airtable", lambda r: "pat" + _t(r, A, 14) + "." + _t(r, HEX, 64), ["AIRTABLE_TOKEN"]),
    ("age", lambda r: "AGE-SECRET-KEY-1" + _t(r, BECH, 58), ["AGE_KEY"]),
    ("discord", lambda r: "M" + _t(r, URL, 23) + "." + _t(r, URL, 6) + "." + _t(r, URL, 27), ["DISCORD_BOT_TOKEN"]),
    ("jwt", _jwt, ["id_token", "JWT"]),
]
# Credentials without a vendor prefix: found only through the name they are assigned to.
NAMED: list[tuple[str, Maker, list[str]]] = [
    ("password", lambda r: _t(r, SYM, r.randrange(12, 24)), ["password", "DB_PASSWORD", "db_pass", "admin_password", "smtp_password"]),
    ("secret", lambda r: _t(r, A, r.randrange(24, 48)), ["client_secret", "SECRET_KEY", "webhook_secret", "app_secret"]),
    ("token", lambda r: _t(r, A, r.randrange(20, 48)), ["auth_token", "API_TOKEN", "refresh_token", "access_token", "bot_token", "CI_JOB_TOKEN"]),
    ("hex-key", lambda r: _t(r, HEX, r.choice([32, 40, 64])), ["DATADOG_API_KEY", "signing_key", "encryption_key", "ALGOLIA_ADMIN_KEY", "api_key"]),
    ("aws-secret", lambda r: _t(r, B64, 40), ["AWS_SECRET_ACCESS_KEY", "aws_secret_key"]),
    ("credentials", lambda r: _t(r, URL, r.randrange(32, 48)), ["CLOUDFLARE_API_TOKEN", "credentials", "service_credential", "private_token"]),
]

# Line templates: {n} the variable name, {v} the value. Disjoint between the splits.
TEMPLATES: dict[str, list[tuple[str, str, bool]]] = {
    # (file, template, usable without a name)
    "tune": [
        (".env", "{N}={v}", False),
        ("settings.py", '{n} = "{v}"', False),
        ("config.json", '  "{n}": "{v}",', False),
        ("values.yaml", "  {n}: {v}", False),
        ("README.md", "Use `{v}` when you call the API.", True),
        ("Dockerfile", "ENV {N}={v}", False),
        ("client.py", 'resp = requests.get(url, params={{"key": "{v}"}})', True),
    ],
    "holdout": [
        ("deploy.sh", 'export {N}="{v}"', False),
        ("app.py", 'client = Client({n}="{v}")', False),
        ("ci.yml", "    {n}: '{v}'", False),
        ("index.js", "const {c} = '{v}';", False),
        ("pyproject.toml", '{n} = "{v}"', False),
        ("main.go", '\t{c} := "{v}"', False),
        ("app.ini", "{n} = {v}", False),
        ("notes.txt", "temporary credential for staging: {v}", True),
        ("Makefile", "\tcurl -s -u admin:{v} https://ci.internal/api", True),
    ],
    "fresh": [
        ("terraform.tfvars", '{n} = "{v}"', False),
        ("application.properties", "{n}={v}", False),
        ("Program.cs", 'var {c} = "{v}";', False),
        ("config.rb", "{N} = '{v}'", False),
        ("docker-compose.yml", "      - {N}={v}", False),
        ("settings.json", '{{"{c}": "{v}"}}', False),
        ("k8s-secret.yaml", '  {n}: "{v}"', False),
        ("chat.log", "[12:01] bob: here you go {v}", True),
        ("test_api.py", 'headers["X-Api-Key"] = "{v}"', True),
    ],
    "final": [
        ("secrets.auto.tfvars", "{n} = \"{v}\"", False),
        ("local.settings.json", '    "{N}": "{v}",', False),
        ("Config.kt", 'val {c} = "{v}"', False),
        ("wrangler.toml", '{N} = "{v}"', False),
        ("Jenkinsfile", "    {N} = '{v}'", False),
        ("gradle.properties", "{c}={v}", False),
        ("helm/values-prod.yaml", "    {c}: {v}", False),
        ("bug-report.md", "Steps: ran `tool login {v}` and it failed", True),
        ("seed.sql", "INSERT INTO api_keys (service, value) VALUES ('billing', '{v}');", True),
    ],
}


def _camel(name: str) -> str:
    parts = name.lower().split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


def _render(template: tuple[str, str, bool], name: str, value: str) -> tuple[str, str]:
    file, text, _ = template
    line = text.format(n=name.lower(), N=name.upper(), c=_camel(name), v=value)
    return file, line


def _pw(r: random.Random) -> str:
    return _t(r, A, r.randrange(12, 20))


# Positives that are whole lines or blocks rather than one value in a template.
Line = Callable[[random.Random], tuple[str, str]]
SPECIAL: dict[str, list[tuple[str, Line]]] = {
    "tune": [
        ("auth-header", lambda r: ("api.http", "Authorization: Bearer " + _t(r, URL, 40))),
        ("private-key", lambda r: ("id_rsa", _key_block(r, "RSA PRIVATE KEY"))),
        ("private-key", lambda r: ("sa.json", '  "private_key": "' + _key_block(r, "PRIVATE KEY").replace("\n", "\\n") + '\\n",')),
        ("url-credentials", lambda r: (".env", f"DATABASE_URL=postgres://app:{_pw(r)}@db:5432/app")),
    ],
    "holdout": [
        ("auth-header", lambda r: ("api.py", 'headers = {"Authorization": "token ' + _t(r, A, 40) + '"}')),
        ("auth-header", lambda r: ("run.sh", 'curl -H "Authorization: Basic ' + base64.b64encode(f"deploy:{_pw(r)}".encode()).decode() + '" https://ci.internal/')),
        ("private-key", lambda r: ("deploy_key", _key_block(r, "OPENSSH PRIVATE KEY"))),
        ("private-key", lambda r: ("tls.key", _key_block(r, "EC PRIVATE KEY"))),
        ("private-key", lambda r: ("signing.pem", _key_block(r, "ENCRYPTED PRIVATE KEY"))),
        ("url-credentials", lambda r: ("settings.yaml", f"  mongo_uri: mongodb+srv://admin:{_pw(r)}@cluster0.mongodb.net/prod")),
        ("url-credentials", lambda r: ("cache.py", f'REDIS_URL = "redis://:{_pw(r)}@cache:6379/0"')),
    ],
    "fresh": [
        ("auth-header", lambda r: ("nginx.conf", 'proxy_set_header Authorization "Basic ' + base64.b64encode(f"svc:{_pw(r)}".encode()).decode() + '";')),
        ("auth-header", lambda r: ("requests.http", "Authorization: token " + _t(r, HEX, 40))),
        ("private-key", lambda r: ("dsa.key", _key_block(r, "DSA PRIVATE KEY"))),
        ("private-key", lambda r: ("backup.asc", _key_block(r, "PGP PRIVATE KEY BLOCK"))),
        ("private-key", lambda r: ("server.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\n" + _t(r, B64, 44))),
        ("url-credentials", lambda r: ("alembic.ini", f"sqlalchemy.url = mysql+pymysql://root:{_pw(r)}@127.0.0.1/app")),
        ("url-credentials", lambda r: ("celery.py", f'broker_url = "amqp://worker:{_pw(r)}@rabbit:5672//"')),
    ],
    "final": [
        ("auth-header", lambda r: ("test_client.py", 'client.get("/me", headers={"Authorization": f"Bearer ' + _t(r, URL, 48) + '"})')),
        ("auth-header", lambda r: ("postman.json", '        {"key": "Authorization", "value": "Bearer ' + _jwt(r) + '"},')),
        ("private-key", lambda r: ("key.pem", _key_block(r, "PRIVATE KEY"))),
        ("private-key", lambda r: ("ssh_config.yaml", "  ssh_key: |\n    " + _key_block(r, "OPENSSH PRIVATE KEY").replace("\n", "\n    "))),
        ("url-credentials", lambda r: ("knexfile.js", f"  connection: 'postgresql://deploy:{_pw(r)}@10.0.0.5:5432/prod',")),
        ("url-credentials", lambda r: ("pip.conf", f"extra-index-url = https://ci:{_pw(r)}@pypi.internal/simple")),
    ],
}

_PREFIXES = ["ghp_", "sk_live_", "AKIA", "xoxb-", "glpat-", "npm_", "sk-proj-", "AIza", "hf_", "dop_v1_"]
# Look-alikes: (family, line maker). Families alternate between the splits entry by entry.
LOOKALIKES: list[tuple[str, Line]] = [
    ("placeholder", lambda r: (".env", f"GITHUB_TOKEN=ghp_{'x' * 36}")),
    ("placeholder", lambda r: ("config.py", f'STRIPE_KEY = "{r.choice(_PREFIXES)}{"X" * 24}"')),
    ("placeholder", lambda r: ("README.md", "export OPENAI_API_KEY=<your-api-key>")),
    ("placeholder", lambda r: ("settings.yaml", "  api_key: your-api-key-here")),
    ("placeholder", lambda r: ("docker-compose.yml", "      - POSTGRES_PASSWORD=changeme")),
    ("placeholder", lambda r: ("app.js", "const token = 'REPLACE_ME_WITH_A_REAL_TOKEN';")),
    ("placeholder", lambda r: (".env.example", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")),
    ("placeholder", lambda r: ("docs.md", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE")),
    ("reference", lambda r: (".github/workflows/ci.yml", "          token: ${{ secrets.GITHUB_TOKEN }}")),
    ("reference", lambda r: ("app.py", 'api_key = os.environ["OPENAI_API_KEY"]')),
    ("reference", lambda r: ("index.js", "const stripe = require('stripe')(process.env.STRIPE_SECRET_KEY);")),
    ("reference", lambda r: ("values.yaml", "  password: {{ .Values.db.password }}")),
    ("reference", lambda r: ("db.py", 'password = getpass.getpass("Password: ")')),
    ("reference", lambda r: ("auth.py", 'token = request.headers.get("Authorization")')),
    ("reference", lambda r: ("config.rb", 'secret_key = ENV.fetch("SECRET_KEY_BASE")')),
    ("reference", lambda r: ("deploy.sh", 'export VAULT_TOKEN="$(vault print token)"')),
    ("truncated", lambda r: ("notes.md", f"old token was {r.choice(_PREFIXES)}{_t(r, A, 6)}... (revoked)")),
    ("truncated", lambda r: ("log.txt", f"using key sk-...{_t(r, A, 4)}")),
    ("truncated", lambda r: ("test_auth.py", f'assert mask("{r.choice(_PREFIXES)}") == "****"')),
    ("truncated", lambda r: ("CHANGELOG.md", "- Accept fine-grained tokens (github_pat_…) in the CLI")),
    ("hash", lambda r: (".pre-commit-config.yaml", f"    rev: {_t(r, HEX, 40)}")),
    ("hash", lambda r: ("BUILD", f'    sha256 = "{_t(r, HEX, 64)}",')),
    ("hash", lambda r: ("package-lock.json", f'      "integrity": "sha512-{_t(r, B64, 86)}=="')),
    ("hash", lambda r: ("k8s.yaml", f"        image: ghcr.io/acme/api@sha256:{_t(r, HEX, 64)}")),
    ("hash", lambda r: ("go.sum", f"github.com/acme/lib v1.2.3 h1:{_t(r, B64, 43)}=")),
    ("hash", lambda r: ("SHA256SUMS", f"{_t(r, HEX, 64)}  ambient-1.0.tar.gz")),
    ("hash", lambda r: ("release.py", f'COMMIT = "{_t(r, HEX, 40)}"  # commit of the release')),
    ("hash", lambda r: ("cache.py", f'etag = "{_t(r, HEX, 32)}"')),
    ("identifier", lambda r: ("models.py", f'request_id = "{_t(r, HEX, 8)}-{_t(r, HEX, 4)}-4{_t(r, HEX, 3)}-a{_t(r, HEX, 3)}-{_t(r, HEX, 12)}"')),
    ("identifier", lambda r: ("config.json", f'  "client_id": "{_t(r, string.digits, 12)}-{_t(r, LOW, 32)}.apps.googleusercontent.com",')),
    ("identifier", lambda r: ("fixtures.json", f'  "user_id": "{_t(r, HEX, 24)}",')),
    ("identifier", lambda r: ("iam.tf", f'  role_arn = "arn:aws:iam::{_t(r, string.digits, 12)}:role/deploy"')),
    ("identifier", lambda r: ("go.mod", f"require github.com/acme/x v0.0.0-20240101120000-{_t(r, HEX, 12)}")),
    ("identifier", lambda r: ("theme.css", f"  --accent: #{_t(r, HEX, 6)};")),
    ("code", lambda r: ("settings.py", "PASSWORD_MIN_LENGTH = 12")),
    ("code", lambda r: ("llm.py", "max_tokens = 4096")),
    ("code", lambda r: ("oauth.py", 'token_url = "https://oauth2.googleapis.com/token"')),
    ("code", lambda r: ("nlp.py", 'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")')),
    ("code", lambda r: ("auth.py", "def refresh_token(self, token: str) -> str:")),
    ("code", lambda r: ("config.yaml", "  auth_method: oauth2")),
    ("code", lambda r: ("aws.py", 'secret_name = "prod/db-credentials"')),
    ("code", lambda r: ("types.ts", "export type TokenKind = 'access_token' | 'refresh_token';")),
    ("public", lambda r: ("checkout.js", f"const stripe = Stripe('pk_live_{_t(r, A, 24)}');")),
    ("public", lambda r: ("map.js", f"mapboxgl.accessToken = 'pk.{_t(r, URL, 60)}.{_t(r, URL, 22)}';")),
    ("public", lambda r: ("authorized_keys", f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{_t(r, B64, 43)} dev@laptop")),
    ("public", lambda r: ("cert.pem", "-----BEGIN CERTIFICATE-----")),
    ("public", lambda r: ("pub.pem", "-----BEGIN PUBLIC KEY-----")),
    ("public", lambda r: ("sentry.py", f'dsn = "https://{_t(r, HEX, 32)}@o{_t(r, string.digits, 6)}.ingest.sentry.io/{_t(r, string.digits, 7)}"')),
    ("prose", lambda r: ("SECURITY.md", "Tokens start with ghp_ and are 40 characters long; never commit them.")),
    ("prose", lambda r: ("docs/setup.md", "Set the GITLAB_TOKEN secret in the repository settings before you run the job.")),
    ("prose", lambda r: ("docs/auth.md", "The password must be at least 12 characters and contain a digit.")),
    ("prose", lambda r: ("docs/api.md", "Send the key in the `Authorization: Bearer <token>` header.")),
    ("redacted", lambda r: ("incident.md", "leaked token: ghp_************************************")),
    ("redacted", lambda r: ("log.txt", "Authorization: Bearer [REDACTED]")),
    ("redacted", lambda r: ("report.json", '  "api_key": "********",')),
    ("redacted", lambda r: ("audit.log", f"aws key AKIA{'*' * 16} rotated")),
]


# The "fresh" split's look-alikes: written after the holdout was measured, before the gate
# was run on them; every entry belongs to the fresh split.
FRESH_LOOKALIKES: list[tuple[str, Line]] = [
    ("placeholder", lambda r: ("config.yaml", '  api_key: "<REPLACE>"')),
    ("placeholder", lambda r: (".env.sample", "TOKEN=your_token_goes_here")),
    ("placeholder", lambda r: ("settings.yml", 'password: "********"')),
    ("placeholder", lambda r: ("README.md", "SLACK_TOKEN=xoxb-your-token")),
    ("placeholder", lambda r: ("app.yaml", "secret: TODO")),
    ("reference", lambda r: ("vars.yml", "db_password: !vault |")),
    ("reference", lambda r: ("gh.py", 'token = config["github"]["token"]')),
    ("reference", lambda r: ("settings.py", 'API_KEY = env("API_KEY")')),
    ("reference", lambda r: ("db.ini", "password = %(DB_PASSWORD)s")),
    ("reference", lambda r: ("dag.py", 'secret_key = Variable.get("secret_key")')),
    ("hash", lambda r: ("requirements.txt", f"    --hash=sha256:{_t(r, HEX, 64)}")),
    ("hash", lambda r: ("meta.yaml", f"  checksum: md5:{_t(r, HEX, 32)}")),
    ("hash", lambda r: ("version.py", f'git_sha = "{_t(r, HEX, 40)}"')),
    ("hash", lambda r: ("Cargo.toml.orig", f'checksum = "{_t(r, HEX, 64)}"')),
    ("identifier", lambda r: ("record.json", f'  "uuid": "{_t(r, HEX, 8)}-{_t(r, HEX, 4)}-{_t(r, HEX, 4)}-{_t(r, HEX, 4)}-{_t(r, HEX, 12)}",')),
    ("identifier", lambda r: ("main.tf", f'  bucket = "acme-prod-artifacts-{r.choice(["eu-west-1", "us-east-2"])}"')),
    ("identifier", lambda r: ("analytics.js", f"gtag('config', 'UA-{_t(r, string.digits, 8)}-1');")),
    ("identifier", lambda r: ("inspect.json", f'    "Id": "{_t(r, HEX, 64)}",')),
    ("code", lambda r: ("auth.py", 'auth_header_name = "X-Auth-Token"')),
    ("code", lambda r: ("settings.py", "TOKEN_EXPIRY_SECONDS = 3600")),
    ("code", lambda r: ("forms.py", "password_field = forms.CharField(widget=forms.PasswordInput)")),
    ("code", lambda r: ("tls.yaml", "  key_path: /etc/ssl/private/server.key")),
    ("code", lambda r: ("views.py", "if password == confirm_password:")),
    ("public", lambda r: ("pay.js", f"Stripe('pk_test_{_t(r, A, 24)}')")),
    ("public", lambda r: ("KEYS", "-----BEGIN PGP PUBLIC KEY BLOCK-----")),
    ("public", lambda r: ("id_rsa.pub", f"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ{_t(r, B64, 60)} ops@bastion")),
    ("prose", lambda r: ("RUNBOOK.md", "Rotate the AWS_SECRET_ACCESS_KEY every 90 days.")),
    ("prose", lambda r: ("CONTRIBUTING.md", "Generate a token at https://github.com/settings/tokens and keep it private.")),
    ("redacted", lambda r: ("response.json", '  "token": "[FILTERED]",')),
    ("redacted", lambda r: ("debug.log", "password=<hidden>")),
    ("redacted", lambda r: ("trace.txt", "Authorization: Bearer ***")),
]


# The "final" split's look-alikes: written after the fresh split was measured and the second
# round of fixes was made, before the gate was run on them.
FINAL_LOOKALIKES: list[tuple[str, Line]] = [
    ("placeholder", lambda r: ("docker-compose.yml", "      MYSQL_ROOT_PASSWORD: example")),
    ("placeholder", lambda r: (".env.template", "OPENAI_API_KEY=sk-...")),
    ("placeholder", lambda r: ("config.toml", 'token = "<insert token>"')),
    ("placeholder", lambda r: ("settings.py", 'SECRET_KEY = "django-insecure-change-me"')),
    ("reference", lambda r: ("deploy.yml", "        password: ${{ secrets.REGISTRY_PASSWORD }}")),
    ("reference", lambda r: ("main.go", '	apiKey := os.Getenv("API_KEY")')),
    ("reference", lambda r: ("Startup.cs", 'var secret = Configuration["Jwt:Secret"];')),
    ("reference", lambda r: ("app.ts", "const token = await getAccessToken(scope);")),
    ("hash", lambda r: ("poetry.lock", f'    {{file = "pkg-1.0.tar.gz", hash = "sha256:{_t(r, HEX, 64)}"}},')),
    ("hash", lambda r: ("flake.lock", f'        "narHash": "sha256-{_t(r, B64, 43)}=",')),
    ("hash", lambda r: ("CHANGELOG.md", f"- fix crash ({_t(r, HEX, 7)})")),
    ("hash", lambda r: ("data.dvc", f"- md5: {_t(r, HEX, 32)}")),
    ("identifier", lambda r: ("firebase.json", f'  "projectId": "acme-{_t(r, LOW, 6)}",')),
    ("identifier", lambda r: ("pixel.js", f"fbq('init', '{_t(r, string.digits, 15)}');")),
    ("identifier", lambda r: ("ids.py", f'TRACE_ID = "{_t(r, HEX, 32)}"')),
    ("identifier", lambda r: ("cloudfront.tf", f'  distribution_id = "E{_t(r, UP, 13)}"')),
    ("code", lambda r: ("models.py", "password = models.CharField(max_length=128)")),
    ("code", lambda r: ("jwt.py", 'ALGORITHM = "HS256"')),
    ("code", lambda r: ("cli.py", 'parser.add_argument("--token", help="API token (or set API_TOKEN)")')),
    ("code", lambda r: ("i18n.json", '  "password_reset_sent": "Check your e-mail for a reset link",')),
    ("public", lambda r: ("index.html", f'<script src="https://js.stripe.com/v3/" data-key="pk_live_{_t(r, A, 24)}"></script>')),
    ("public", lambda r: ("known_hosts", f"github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{_t(r, B64, 43)}")),
    ("prose", lambda r: ("docs/faq.md", "If the API returns 401, your token has expired; create a new one.")),
    ("prose", lambda r: ("docs/keys.md", "Private keys never leave the HSM; only the public key is exported.")),
    ("redacted", lambda r: ("ci.log", "Run echo ***")),
    ("redacted", lambda r: ("http.log", "cookie: session=[redacted]")),
]


def format_cases(split: str, per_format: int = 3, per_lookalike: int = 6) -> list[Case]:
    """Ambient's generated cases for one split ("tune" or "holdout"); deterministic."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    rng = random.Random(f"ambient-secrets-{split}")
    templates = TEMPLATES[split]
    cases: list[Case] = []

    def add(family: str, file: str, text: str, secret: bool) -> None:
        cases.append(Case(f"{split}-{len(cases):04d}", "ambient", split, family, file, text, secret))

    for family, make, names in FORMATS:
        for _ in range(per_format):
            template = rng.choice(templates)
            name = rng.choice(names + _NEUTRAL)
            add(family, *_render(template, name, make(rng)), True)
    for family, make, names in NAMED:
        named = [t for t in templates if not t[2]]
        for _ in range(per_format * 2):
            add(family, *_render(rng.choice(named), rng.choice(names), make(rng)), True)
    for family, make_line in SPECIAL[split]:
        for _ in range(per_format):
            add(family, *make_line(rng), True)
    if split in ("fresh", "final"):
        taken = FRESH_LOOKALIKES if split == "fresh" else FINAL_LOOKALIKES
    else:
        taken = _alternate(LOOKALIKES, SPLITS.index(split))
    seen: set[tuple[str, str]] = set()
    for family, make_line in taken:
        for _ in range(per_lookalike):
            file, text = make_line(rng)
            if (file, text) not in seen:  # fixed lines count once, random ones each time
                seen.add((file, text))
                add(family, file, text, False)
    return cases


def _alternate(items: list[tuple[str, Line]], parity: int) -> list[tuple[str, Line]]:
    """Every other entry of each family, so each split has every family but other lines."""
    seen: dict[str, int] = {}
    chosen = []
    for family, make in items:
        index = seen.get(family, 0)
        seen[family] = index + 1
        if index % 2 == parity:
            chosen.append((family, make))
    return chosen


def all_cases() -> dict[str, list[Case]]:
    """Every labelled case by evaluation set (see PROVENANCE.md for which were tuned on)."""
    from tests.data.secrets.families import family_cases  # it imports Case from here

    noseyparker = noseyparker_cases()
    return {
        "tune": format_cases("tune"),
        "holdout": format_cases("holdout"),
        "fresh": format_cases("fresh"),
        "final": format_cases("final"),
        "upstream": upstream_cases(),
        "fam-tune": family_cases("fam-tune"),
        "fam-holdout": family_cases("fam-holdout"),
        "np-tune": [c for c in noseyparker if c.split == "np-tune"],
        "np-holdout": [c for c in noseyparker if c.split == "np-holdout"],
    }


def as_diff(cases: list[Case]) -> str:
    """One diff that adds each case as a new file `cases/<id>/<file>`."""
    chunks = []
    for case in cases:
        lines = case.text.split("\n")
        path = f"cases/{case.id}/{case.file}"
        body = "".join(f"+{line}\n" for line in lines)
        chunks.append(
            f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n"
            f"+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"
        )
    return "".join(chunks)
