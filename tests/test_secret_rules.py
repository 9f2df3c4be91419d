"""The gate's kept rule set, the place-based families, Kubernetes manifests, explanations,
and the promise that nothing the older rules blocked gets through."""

from __future__ import annotations

import base64
import random
import string
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents.specialists.secrets_report import SecretItem, SecretsReport, severity_of
from bot.cli.secrets import scan_diff
from bot.secrets.plugins import gate_config
from bot.secrets.ruleset import gitleaks_rules, load_ruleset, translate
from bot.secrets.scan import scan_diff_text
from tests.data.secrets.labelled import all_cases, as_diff

_ALNUM = string.ascii_letters + string.digits


def value(length: int, seed: int, alphabet: str = _ALNUM) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(length))


def added(path: str, *lines: str) -> str:
    body = "".join(f"+{line}\n" for line in lines)
    return f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"


def rules_of(diff: str) -> list[str]:
    return [f.rule for f in scan_diff_text(diff).findings]


# --- the rule file ----------------------------------------------------------------------


def test_every_content_rule_of_the_kept_file_compiles_and_the_skips_are_counted() -> None:
    rules = load_ruleset()
    assert len(rules.rules) >= 200
    # The one rule that only names files (PKCS #12 by extension); none fails to compile.
    assert rules.report() == {"pkcs12-file": "matches file paths only (the gate scans content)"}


@pytest.mark.parametrize(
    ("go", "python"),
    [
        (r"\b(p8e-(?i)[a-z0-9]{32})", r"\b(p8e-(?i:[a-z0-9]{32}))"),
        (r"(?i)key=([a-z]+)", r"(?i)key=([a-z]+)"),
        (r"pat[[:alnum:]]{14}\z", r"pat[a-zA-Z0-9]{14}\Z"),
        (r"a(?i)b|c", r"a(?i:b|c)"),
        (r"[\w[&]", r"[\w\[\&]"),
    ],
)
def test_go_syntax_is_translated(go: str, python: str) -> None:
    assert translate(go) == python


def test_a_scoped_flag_keeps_go_semantics() -> None:
    import re

    regex = re.compile(translate(r"\b(LTAI(?i)[a-z0-9]{20})"))
    assert regex.search("LTAI" + "Ab3dEf5hIj7lMn9pQr1t")
    assert not regex.search("ltai" + "ab3def5hij7lmn9pqr1t")


def test_keywords_entropy_and_allowlists_decide() -> None:
    rules = gitleaks_rules()
    token = "NRAK-" + value(27, 3, string.ascii_uppercase + string.digits)
    ids = {m.rule.id for m in rules.matches(f'newrelic_key = "{token}"')}
    assert "new-relic-user-api-key" in ids
    # No keyword on the line: the rule is not even tried.
    assert not [m for m in rules.matches("x = 1") if m.rule.id == "new-relic-user-api-key"]
    # A generic guess below its entropy floor does not count.
    assert not [m for m in rules.matches('api_key = "aaaaabbbbbcccc"') if m.rule.generic]


def test_a_gitleaks_finding_names_its_rule_and_why() -> None:
    token = "glpat-" + value(20, 5)
    (finding,) = scan_diff_text(added("ci/deploy.sh", f"export GL={token}")).findings
    assert finding.rule in {"gitleaks:gitlab-pat", "ambient:CodeHostTokenDetector"}
    assert finding.why
    token = "aio_" + value(28, 6)
    (finding,) = scan_diff_text(added("src/io.h", f'#define IO_KEY "{token}"')).findings
    assert finding.rule
    assert finding.why


def test_a_rule_scoped_to_terraform_runs_on_terraform_only() -> None:
    line = 'password = "' + value(16, 8) + '"'
    on_tf = {m.rule.id for m in gitleaks_rules().matches(line, "main.tf")}
    on_yaml = {m.rule.id for m in gitleaks_rules().matches(line, "values.yaml")}
    assert "hashicorp-tf-password" in on_tf
    assert "hashicorp-tf-password" not in on_yaml


# --- the families -------------------------------------------------------------------------


PW = value(14, 11)


@pytest.mark.parametrize(
    ("path", "line", "rule"),
    [
        ("deploy.sh", f"curl -u deploy:{PW} https://ci.internal/api", "CommandLine"),
        ("run.sh", f"./tool --registry-password={PW} push", "CommandLine"),
        ("backup.sh", f"mysqldump -u root -p{PW} shop", "CommandLine"),
        ("init.sql", f"CREATE USER 'app'@'%' IDENTIFIED BY '{PW}';", "SqlPassword"),
        ("roles.sql", f"ALTER ROLE r WITH LOGIN PASSWORD '{PW}';", "SqlPassword"),
        ("settings.xml", f"<password>{PW}</password>", "ConfigPassword"),
        ("App.config", f'"Server=db;User Id=sa;Password={PW};"', "ConfigPassword"),
        (".netrc", f"machine h login u password {PW}", "ConfigPassword"),
        ("README.md", f"The default password is '{PW}'.", "PlainPassword"),
        ("Mail.cs", f'new NetworkCredential("mailer", "{PW}");', "CredentialCall"),
    ],
)
def test_credentials_found_by_where_they_sit(path: str, line: str, rule: str) -> None:
    found = rules_of(added(path, line))
    assert found, f"{path}: nothing found"
    assert any(rule in r or r.startswith("gitleaks:") for r in found), found


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("deploy.sh", 'curl -u "$CI_USER:$CI_PASSWORD" https://ci.internal/api'),
        ("ci.yml", "  run: curl --user admin:${{ secrets.TOKEN }} https://ci.internal/"),
        ("Makefile", "\tdocker login --username ci --password-stdin < token.txt"),
        ("init.sql", "CREATE USER 'app'@'%' IDENTIFIED BY '<password>';"),
        ("settings.xml", "<password>${env.MAVEN_PASSWORD}</password>"),
        ("Mail.cs", "client.Credentials = new NetworkCredential(user, password);"),
        ("README.md", "The default password is 'changeme'."),
    ],
)
def test_references_and_placeholders_in_those_places_pass(path: str, line: str) -> None:
    assert rules_of(added(path, line)) == []


def _manifest(block: str, key: str, shown: str) -> str:
    return added(
        "k8s/secret.yaml",
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        "  name: db",
        f"{block}:",
        f"  {key}: {shown}",
    )


def test_kubernetes_secret_data_is_decoded_and_judged() -> None:
    real = base64.b64encode(PW.encode()).decode()
    (finding,) = scan_diff_text(_manifest("data", "db-pass", real)).findings
    assert (finding.line, finding.rule) == (6, "ambient:kubernetes-secret")
    assert "base64-decoded" in finding.why
    assert rules_of(_manifest("stringData", "token", "hunter2-" + PW)) != []
    stand_in = base64.b64encode(b"REPLACE_ME").decode()
    assert rules_of(_manifest("data", "note", stand_in)) == []
    config_map = _manifest("data", "db-pass", real).replace("kind: Secret", "kind: ConfigMap")
    assert "ambient:kubernetes-secret" not in rules_of(config_map)


def test_a_base64_wrapped_private_key_is_found() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + value(64, 2) + "\n"
    wrapped = base64.b64encode(pem.encode()).decode()
    assert "ambient:EncodedPrivateKeyDetector" in rules_of(added(".env", f"KEY_B64={wrapped}"))
    other = base64.b64encode(("-----BEGIN CERTIFICATE-----\n" + value(64, 2)).encode()).decode()
    assert "ambient:EncodedPrivateKeyDetector" not in rules_of(added(".env", f"C={other}"))


# --- nothing blocked before gets through ------------------------------------------------


def _older_config() -> dict[str, object]:
    """The gate without the rules added with the rule set (their files and filters)."""
    config = gate_config()
    new_files = ("families.py", "ruleset.py")
    plugins = [p for p in config["plugins_used"] if not str(p.get("path", "")).endswith(new_files)]
    return {"plugins_used": plugins, "filters_used": config["filters_used"]}


@pytest.mark.parametrize("name", ["tune", "holdout", "upstream", "np-tune", "np-holdout"])
def test_the_gate_blocks_everything_the_older_rules_blocked(name: str) -> None:
    diff = as_diff(all_cases()[name])
    older = {(f.file, f.line) for f in scan_diff_text(diff, config=_older_config()).findings}
    now = {(f.file, f.line) for f in scan_diff_text(diff).findings}
    assert older, "the older rules must find something here"
    assert older <= now, sorted(older - now)[:5]


@pytest.mark.parametrize("name", ["fam-tune", "fam-holdout"])
def test_generated_family_cases_meet_the_targets(name: str) -> None:
    cases = all_cases()[name]
    hits = {f.file.split("/")[1] for f in scan_diff_text(as_diff(cases)).findings}
    positives = [c for c in cases if c.secret]
    negatives = [c for c in cases if not c.secret]
    assert sum(c.id in hits for c in positives) / len(positives) >= 0.90
    assert sum(c.id in hits for c in negatives) / len(negatives) <= 0.12


# --- what a person reads ------------------------------------------------------------------


def test_scan_diff_says_what_blocks_the_change_and_why(tmp_path: Path) -> None:
    diff = tmp_path / "d.diff"
    diff.write_text(added("init.sql", f"CREATE USER a IDENTIFIED BY '{PW}';"))
    done = CliRunner().invoke(scan_diff, [str(diff)])
    assert done.exit_code == 1
    assert done.output.startswith("blocks this change:\n")
    assert "[ambient:SqlPasswordDetector: matches Ambient's rule for" in done.output
    assert PW not in done.output


def test_the_repository_report_ranks_docs_and_fixtures_lower() -> None:
    assert severity_of("docs/api.md") == "low"
    assert severity_of("tests/fixtures/keys.py") == "low"
    assert severity_of("src/app/settings.py") == "high"
    items = (
        SecretItem("src/settings.py", 3, "AWS Access Key", "matches x"),
        SecretItem("docs/quickstart.md", 9, "Secret Keyword"),
    )
    report = SecretsReport("SecretsScan", items)
    text = report.markdown()
    assert text.startswith("2 possible secrets already in the repository")
    assert text.index("src/settings.py") < text.index("<details>") < text.index("quickstart")
    assert "(1 in documentation or test fixtures)" in report.summary()
    assert report.as_dict()["items"][1]["severity"] == "low"  # type: ignore[index]
