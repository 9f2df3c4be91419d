"""Ambient's generated cases for the place-based families: credentials on command lines, in
SQL, XML, connection strings, .netrc, prose and Kubernetes Secret manifests, with look-alikes
of each (references, placeholders, flags without values). Seeded, so no real credential is
stored. `fam-tune` was written beside the rules; `fam-holdout` has other templates and other
look-alikes, written before it was first measured (PROVENANCE.md has the figures).
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Callable

from tests.data.secrets.labelled import Case

A = string.ascii_letters + string.digits
SYM = A + "!#%^*-_+="


def _t(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _pw(rng: random.Random) -> str:
    return _t(rng, SYM, rng.randrange(10, 20)).lstrip("-")


def _k8s(rng: random.Random, value: str, encoded: bool) -> str:
    shown = base64.b64encode(value.encode()).decode() if encoded else value
    block = "data" if encoded else "stringData"
    name = rng.choice(["db-creds", "api", "registry"])
    key = rng.choice(["password", "token", "api-key", "DB_PASS"])
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\n"
        f"{block}:\n  {key}: {shown}"
    )


Make = Callable[[random.Random], tuple[str, str]]
SECRETS: dict[str, list[tuple[str, Make]]] = {
    "fam-tune": [
        ("curl-user", lambda r: ("deploy.sh", f"curl -u deploy:{_pw(r)} https://ci.example.org/api")),
        ("cli-flag", lambda r: ("Makefile", f"\tdocker login --username ci --password {_pw(r)} registry.local")),
        ("cli-flag", lambda r: ("run.sh", f"./tool sync --api-key={_t(r, A, 32)}")),
        ("mysql", lambda r: ("backup.sh", f"mysqldump -u root -p{_pw(r)} shop > shop.sql")),
        ("sql", lambda r: ("init.sql", f"CREATE USER 'app'@'%' IDENTIFIED BY '{_pw(r)}';")),
        ("sql", lambda r: ("roles.sql", f"CREATE ROLE reporter WITH LOGIN PASSWORD '{_pw(r)}';")),
        ("xml", lambda r: ("settings.xml", f"      <password>{_pw(r)}</password>")),
        ("odbc", lambda r: ("app.config", f'<add name="Db" connectionString="Server=db;Database=x;User Id=sa;Password={_pw(r)};"/>')),
        ("netrc", lambda r: (".netrc", f"machine api.example.org login bot password {_pw(r)}")),
        ("prose", lambda r: ("README.md", f"The default password is '{_pw(r)}'.")),
        ("k8s", lambda r: ("secret.yaml", _k8s(r, _pw(r), True))),
        ("k8s", lambda r: ("secret.yaml", _k8s(r, _pw(r), False))),
    ],
    "fam-holdout": [
        ("curl-user", lambda r: ("ci.yml", f"      - run: curl --user admin:{_pw(r)} -X POST https://jenkins.local/job/x/build")),
        ("cli-flag", lambda r: ("Dockerfile", f"RUN ./configure --db-password '{_pw(r)}'")),
        ("cli-flag", lambda r: ("notes.md", f"    gh auth login --with-token --token {_t(r, A, 36)}")),
        ("sshpass", lambda r: ("sync.sh", f"sshpass -p '{_pw(r)}' rsync -a ./ host:/srv/")),
        ("sql", lambda r: ("migrate.sql", f"ALTER USER reporting IDENTIFIED BY \"{_pw(r)}\";")),
        ("sql", lambda r: ("grant.sql", f"SET PASSWORD FOR 'ops'@'localhost' = '{_pw(r)}';")),
        ("xml", lambda r: ("web.config", f'  <add key="SmtpPassword" value="{_pw(r)}" />')),
        ("odbc", lambda r: ("appsettings.json", f'  "Main": "Host=pg;Username=app;Pwd={_pw(r)};Pooling=true"')),
        ("netrc", lambda r: ("_netrc", f"machine git.example.net\n  login ci\n  password {_pw(r)}")),
        ("prose", lambda r: ("INSTALL.txt", f'Log in as admin; the password for user "admin" is "{_pw(r)}".')),
        ("call", lambda r: ("Mailer.cs", f'client.Credentials = new NetworkCredential("mailer", "{_pw(r)}");')),
        ("k8s", lambda r: ("manifests/creds.yml", _k8s(r, _t(r, A, 40), True))),
    ],
}
LOOKALIKES: dict[str, list[tuple[str, str]]] = {
    "fam-tune": [
        ("deploy.sh", 'curl -u "$CI_USER:$CI_PASSWORD" https://ci.example.org/api'),
        ("Makefile", "\tdocker login --username ci --password-stdin < token.txt"),
        ("run.sh", "./tool sync --api-key=${API_KEY}"),
        ("init.sql", "CREATE USER 'app'@'%' IDENTIFIED BY '<password>';"),
        ("settings.xml", "      <password>${env.MAVEN_PASSWORD}</password>"),
        (".netrc", "machine api.example.org login bot password $NETRC_PASSWORD"),
        ("README.md", "The default password is 'changeme'."),
        ("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  password: " + base64.b64encode(b"changeme").decode()),
        ("config.yaml", "kind: ConfigMap\ndata:\n  log_level: debug\n  region: eu-west-1"),
    ],
    "fam-holdout": [
        ("ci.yml", "      - run: curl --user admin:${{ secrets.JENKINS_TOKEN }} https://jenkins.local/"),
        ("Dockerfile", "RUN ./configure --db-password \"$(cat /run/secrets/db)\""),
        ("notes.md", "    gh auth login --with-token < mytoken.txt"),
        ("migrate.sql", "ALTER USER reporting IDENTIFIED BY :new_password;"),
        ("web.config", '  <add key="SmtpPassword" value="#{SmtpPassword}#" />'),
        ("appsettings.json", '  "Main": "Host=pg;Username=app;Pwd=${PG_PASSWORD};Pooling=true"'),
        ("INSTALL.txt", "Log in as admin; you will be asked to choose a password."),
        ("Mailer.cs", "client.Credentials = new NetworkCredential(user, password);"),
        ("manifests/creds.yml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  password: REPLACE_ME"),
    ],
}


def family_cases(split: str, per_template: int = 3) -> list[Case]:
    """The generated family cases of one split ("fam-tune" or "fam-holdout")."""
    rng = random.Random(f"families-{split}")
    cases: list[Case] = []
    for family, make in SECRETS[split]:
        for _ in range(per_template):
            file, text = make(rng)
            cases.append(Case(f"{split}-{len(cases):03d}", "ambient", split, family, file, text, True))
    for file, text in LOOKALIKES[split]:
        cases.append(Case(f"{split}-{len(cases):03d}", "ambient", split, "look-alike", file, text, False))
    return cases
