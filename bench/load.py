"""Load and soak: a 10x burst of deliveries at the receiver, then rounds of 50 jobs at once.

Starts redis-server, the GitHub simulator, the scripted model (it answers at once), `ambient
serve` and one `ambient worker` running up to 50 jobs at once (AMBIENT_WORKER_MAX_JOBS=50; the
default is 10), and stops them all.

Phase 1, burst: signed `check_suite` failures, each for a new commit so each queues a job, sent
to a second `ambient serve` whose Redis database no worker reads (the jobs stay queued to be
counted), each on a new connection as GitHub sends them. Steady: one delivery after another for
a few seconds gives the rate R. Burst: 10 x R deliveries (ten seconds of steady traffic) at
once. Lost = answered 2xx but the job or the dedupe key is not in Redis.

Phase 2, jobs: 50 repositories (examples/python-demo) get one pull request each whose tests
fail; 50 `@app fix this` comments are emitted at once, and the worker verifies each fix in the
sandbox (bwrap unless AMBIENT_SANDBOX says docker: 50 containers on 2 cores would measure the
engine) and pushes one commit per PR. A round ends when arq's queue is empty; each job must then
have exactly one reply and one commit on its branch. Lost = never finished, or finished twice.
Baselines from the same run: the fix alone (latency under load vs alone) and 50 `@app help` at
once (no model, no sandbox: the per-job floor). CPU seconds per job come from /proc (each child
process with its exited descendants: git under the simulator, the sandboxes under the worker),
so the figures say where the time goes even when other work shares the machine.

Soak: a warm-up round of 50 brings the worker to its working size, then ROUNDS more rounds. The
worker's RSS is VmRSS of the worker process itself, read when it is idle; the peak during a
round (tree MB) adds its children (git, the bwrap spawners and sandboxes).

Last line: jobs_per_min=<x> rss_growth_mb=<y> lost=<z>
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import resource
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
import redis
from _harness import (
    OWNER,
    ROOT,
    Running,
    choose_sandbox,
    close_pull,
    cpu_s,
    fresh_pull,
    machine_ticks,
    reply_posts,
    rss_kb,
    running_app,
    tree_rss_kb,
)

from tests.sim.processes import free_port, wait_for_port

JOBS: Final = 50
ROUNDS: Final = 2
# One pull request per repository and round: jobs of an instance are spread over many
# repositories, and the simulator's check-run answers cost git calls per open PR of the repo.
REPOS: Final = tuple(f"demo-{n}" for n in range(JOBS))
SETUP_THREADS: Final = 8
ALONE_RUNS: Final = 3
STEADY_S: Final = 3.0
BURST_FACTOR: Final = 10
ROUND_WAIT_S: Final = 300.0
SAMPLE_S: Final = 0.25
GITHUB_TIMEOUT_S: Final = 10.0
SAMPLE: Final = ROOT / "tests/data/webhooks/selected/check_suite.completed.success.with-pr.json"


# ---- phase 1: the burst ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    guid: str
    job_id: str
    request: bytes


def deliveries(secret: str, port: int) -> Iterator[Delivery]:
    """Endless signed check_suite failures, each for a new commit (so each queues a job)."""
    template = json.loads(SAMPLE.read_text())
    template["check_suite"]["conclusion"] = "failure"
    text = json.dumps(template, separators=(",", ":"))
    head, repo_id = template["check_suite"]["head_sha"], template["repository"]["id"]
    while True:
        guid = str(uuid.uuid4())
        sha = hashlib.sha1(guid.encode()).hexdigest()  # noqa: S324 - a commit id
        body = text.replace(head, sha).encode()
        signature = hmac.new(secret.encode(), body, "sha256").hexdigest()
        lines = (
            "POST /webhook HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Content-Type: application/json",
            "X-GitHub-Event: check_suite",
            f"X-GitHub-Delivery: {guid}",
            f"X-Hub-Signature-256: sha256={signature}",
            f"Content-Length: {len(body)}",
            "Connection: close",
        )
        yield Delivery(
            guid, f"ci:{repo_id}:{sha}", "\r\n".join(lines).encode() + b"\r\n\r\n" + body
        )


@dataclass(frozen=True, slots=True)
class Answer:
    delivery: Delivery
    status: int  # 0: no HTTP answer (refused, reset)
    seconds: float
    started: float
    ended: float


async def send(port: int, delivery: Delivery) -> Answer:
    """POST one delivery on its own connection, as GitHub does; read the whole answer."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(delivery.request)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0
    except OSError:
        status = 0
    ended = time.perf_counter()
    return Answer(delivery, status, ended - started, started, ended)


async def steady(port: int, source: Iterator[Delivery]) -> list[Answer]:
    """Deliveries one after another for STEADY_S seconds."""
    deadline = time.perf_counter() + STEADY_S
    answers = []
    while time.perf_counter() < deadline:
        answers.append(await send(port, next(source)))
    return answers


async def at_once(port: int, batch: Sequence[Delivery]) -> list[Answer]:
    return await asyncio.gather(*(send(port, d) for d in batch))


def not_queued(redis_url: str, answers: Sequence[Answer]) -> int:
    """How many accepted deliveries have no job in arq's queue or no dedupe key."""
    client = redis.Redis.from_url(redis_url)
    try:
        pipe = client.pipeline(transaction=False)
        accepted = [a.delivery for a in answers if 200 <= a.status < 300]
        for delivery in accepted:
            pipe.zscore("arq:queue", delivery.job_id)
            pipe.exists(f"arq:job:{delivery.job_id}", f"ambient:delivery:{delivery.guid}")
        found = pipe.execute()
    finally:
        client.close()
    return sum(1 for i in range(len(accepted)) if found[2 * i] is None or found[2 * i + 1] != 2)


def pct(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True, slots=True)
class Sent:
    """One row of phase 1."""

    name: str
    answers: list[Answer]
    lost: int

    @property
    def seconds(self) -> list[float]:
        return [a.seconds for a in self.answers]

    @property
    def rate(self) -> float:
        wall = max(a.ended for a in self.answers) - min(a.started for a in self.answers)
        return len(self.answers) / wall

    @property
    def refused(self) -> Counter[int]:
        return Counter(a.status for a in self.answers if not 200 <= a.status < 300)

    def row(self) -> str:
        bad, took = self.refused, self.seconds
        return (
            f"{self.name:8}{len(took):>7}{len(took) - bad.total():>7}{self.rate:>8.0f}"
            f"{pct(took, 50) * 1e3:>9.1f}{pct(took, 99) * 1e3:>9.1f}{max(took) * 1e3:>9.1f}"
            f"{bad.total():>9}{self.lost:>6}" + (f"  statuses {dict(bad)}" if bad else "")
        )


def burst_phase(run: Running) -> int:
    """Phase 1 against a receiver of its own; returns the deliveries lost."""
    port = free_port()
    # Database 1: no worker takes these jobs, so each can be found in the queue afterwards.
    redis_url = run.redis_url.rsplit("/", 1)[0] + "/1"
    env = {**run.env, "AMBIENT_REDIS_URL": redis_url}
    run.group.spawn("serve-burst", [sys.executable, "-m", "bot", "serve", "--port", str(port)], env)
    wait_for_port(port)
    source = deliveries(run.sim.app.webhook_secret, port)
    asyncio.run(steady(port, source))  # warm-up
    calm = asyncio.run(steady(port, source))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 500
    size = min(round(BURST_FACTOR * len(calm) / STEADY_S), limit)
    burst = asyncio.run(at_once(port, [next(source) for _ in range(size)]))
    rows = [
        Sent(name, got, not_queued(redis_url, got))
        for name, got in (("steady", calm), ("burst", burst))
    ]
    capped = " (capped by the open-files limit)" if size == limit else ""
    print(
        f"phase 1: deliveries to `ambient serve` (steady: one after another for {STEADY_S:.0f} s;"
        f" burst: {BURST_FACTOR}x the steady rate's deliveries of a second, all at once{capped})"
    )
    print(
        f"{'':8}{'sent':>7}{'2xx':>7}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'non-2xx':>9}{'lost':>6}"
    )
    for row in rows:
        print(row.row())
    late = sum(1 for s in rows[1].seconds if s > GITHUB_TIMEOUT_S)
    print(
        f"the burst drained at {rows[1].rate / rows[0].rate:.2f}x the steady rate; answered "
        f"after GitHub's {GITHUB_TIMEOUT_S:.0f} s (failed deliveries to GitHub): {late}; at this"
        f" rate a burst of about {rows[1].rate * GITHUB_TIMEOUT_S:.0f} is answered in time"
    )
    return sum(row.lost for row in rows)


# ---- phase 2: jobs -----------------------------------------------------------------------


def in_progress(client: redis.Redis) -> int:
    return sum(1 for _ in client.scan_iter(match="arq:in-progress:*", count=1000))


@dataclass
class Sampler:
    """While a round runs: the peak RSS of the worker's process tree and of jobs in flight."""

    pid: int
    redis_url: str
    peak_kb: int = 0
    peak_jobs: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        client = redis.Redis.from_url(self.redis_url)
        try:
            while not self._stop.wait(SAMPLE_S):
                self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
                self.peak_jobs = max(self.peak_jobs, in_progress(client))
        finally:
            client.close()


@dataclass(frozen=True, slots=True)
class Target:
    """Where one command is posted: a PR (whose branch a fix must move by one commit) or an
    issue (branch empty)."""

    repo: str
    number: int
    head: str = ""
    branch: str = ""


@dataclass(frozen=True, slots=True)
class Emitted:
    target: Target
    guid: str
    started: float


@dataclass(frozen=True, slots=True)
class RoundResult:
    name: str
    jobs: int
    finished: int
    wall_s: float
    latencies: list[float]
    outcomes: Counter[str]
    lost: list[str]
    peak_jobs: int
    peak_tree_mb: float
    rss_mb: float
    #: CPU seconds each child process (and its exited descendants) spent in the round.
    cpu: dict[str, float]
    #: The share of the machine's CPU time that anything (these processes or others) used.
    busy: float

    @property
    def per_min(self) -> float:
        return self.finished / self.wall_s * 60 if self.wall_s > 0 else 0.0


@dataclass
class LogCursor:
    """The worker's JSON log, read on from where the last read stopped."""

    path: Path
    offset: int = 0

    def read(self) -> list[dict[str, object]]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            raw = log.read()
        cut = raw.rfind(b"\n") + 1
        self.offset += cut
        lines = raw[:cut].decode(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@dataclass(frozen=True, slots=True)
class Finished:
    """Per delivery: its job id, how often it was received, how often arq finished it."""

    job_of: dict[str, str]
    tries: Counter[str]
    done: Counter[str]


def finished_jobs(lines: list[dict[str, object]]) -> Finished:
    job_of: dict[str, str] = {}
    tries: Counter[str] = Counter()
    done: Counter[str] = Counter()
    for line in lines:
        msg = str(line.get("msg", ""))
        if msg == "received":
            job_of[str(line["delivery_id"])] = str(line["job_id"])
            tries[str(line["job_id"])] += 1
        elif " ● " in msg and "← " in msg:
            # arq: "  1.23s ← <job id>:<function> ● <result>"
            done[msg.split("← ", 1)[1].split(" ●", 1)[0].rsplit(":", 1)[0]] += 1
    return Finished(job_of, tries, done)


def commits_on(http: httpx.Client, token: str, target: Target, tip: str) -> int:
    """How many commits lead from the PR's head to `tip` (first parents, a few at most)."""
    count, sha = 0, tip
    while sha != target.head and count < 5:
        url = f"/repos/{OWNER}/{target.repo}/git/commits/{sha}"
        reply = http.get(url, headers={"Authorization": f"token {token}"})
        reply.raise_for_status()
        sha = reply.json()["parents"][0]["sha"]
        count += 1
    return count


def emit_all(run: Running, targets: Sequence[Target], body: str) -> list[Emitted]:
    """Post the comment on every target at once; each returns once the receiver answered."""

    def one(target: Target) -> Emitted:
        started = time.time()
        guid = run.sim.emit(
            "issue_comment",
            owner=OWNER,
            name=target.repo,
            number=target.number,
            body=body,
            user="maint",
        )
        return Emitted(target, guid, started)

    with ThreadPoolExecutor(len(targets)) as pool:
        return list(pool.map(one, targets))


def cpu_by_process(run: Running) -> dict[str, float]:
    return {name: cpu_s(p.pid) for name, p in run.group.children if name != "serve-burst"}


def wait_idle(run: Running, client: redis.Redis) -> bool:
    """Until arq's queue is empty and nothing runs (a deferred retry stays in the queue)."""
    deadline = time.monotonic() + ROUND_WAIT_S
    while time.monotonic() < deadline:
        if client.zcard("arq:queue") == 0 and in_progress(client) == 0:
            return True
        run.group.check_alive()
        time.sleep(0.1)
    return False


@dataclass(frozen=True, slots=True)
class Seen:
    """What a round left behind: the simulator's request log and repositories, the worker's
    finished jobs."""

    requests: list[dict[str, object]]
    states: dict[str, dict[str, object]]
    finished: Finished
    bot: str


def judge(
    seen: Seen, emitted: Emitted, count_commits: Callable[[Target, str], int]
) -> tuple[str, float | None, str | None]:
    """(outcome, seconds from the comment to the reply, why it is lost or None)."""
    target = emitted.target
    where = f"{target.repo}#{target.number}"
    state = seen.states[target.repo]
    comments = state["comments"]
    assert isinstance(comments, list)
    replies = [c for c in comments if c["issue_number"] == target.number and c["user"] == seen.bot]
    job = seen.finished.job_of.get(emitted.guid, "")
    done = seen.finished.done.get(job, 0)
    if not replies or not done:
        return "never finished", None, f"{where}: never finished ({len(replies)} replies)"
    posts = reply_posts(seen.requests, target.repo, target.number)
    latency = min(posts) - emitted.started if posts else None
    if not target.branch:
        outcome, commits = "replied", 0
    else:
        pushed = "Pushed" in replies[0]["body"]
        outcome = "published" if pushed else replies[0]["body"].splitlines()[0][:70]
        branches = state["branches"]
        assert isinstance(branches, dict)
        commits = count_commits(target, branches.get(target.branch, target.head))
        if pushed and commits != 1:
            return outcome, latency, f"{where}: says pushed, {commits} commits on the branch"
    if len(replies) > 1 or done > 1 or commits > 1:
        twice = f"{len(replies)} replies, finished {done}x, {commits} commits"
        return outcome, latency, f"{where}: finished more than once ({twice})"
    return outcome, latency, None


def run_round(
    run: Running,
    name: str,
    targets: Sequence[Target],
    body: str,
    cursor: LogCursor,
    tokens: dict[str, str],
) -> RoundResult:
    """Post `body` on every target at once and wait for the worker to be idle again."""
    worker = run.group.process("worker").pid
    client = redis.Redis.from_url(run.redis_url)
    http = httpx.Client(base_url=run.sim.api_url, timeout=30)
    try:
        run.sim.clear_requests()
        before, ticks = cpu_by_process(run), machine_ticks()
        with Sampler(worker, run.redis_url) as sampler:
            emitted = emit_all(run, targets, body)
            idle = wait_idle(run, client)
        cpu = {k: v - before.get(k, 0.0) for k, v in cpu_by_process(run).items()}
        busy, total = (after - first for after, first in zip(machine_ticks(), ticks, strict=True))
        seen = Seen(
            run.sim.requests(),
            {repo: run.sim.repo_state(OWNER, repo) for repo in {t.repo for t in targets}},
            finished_jobs(cursor.read()),
            run.sim.app.bot_login,
        )

        def count_commits(target: Target, tip: str) -> int:
            return commits_on(http, tokens[target.repo], target, tip)

        judged = [judge(seen, e, count_commits) for e in emitted]
        time.sleep(0.5)
        rss = rss_kb(worker)
    finally:
        http.close()
        client.close()
    lost = [why for _, _, why in judged if why]
    if not idle:
        lost.append(f"the worker was still busy after {ROUND_WAIT_S:.0f} s")
    latencies = [seconds for _, seconds, _ in judged if seconds is not None]
    ends = [e.started + s for e, (_, s, _) in zip(emitted, judged, strict=True) if s is not None]
    wall = max(ends, default=0.0) - min(e.started for e in emitted)
    print(f"  {name}: {len(latencies)}/{len(targets)} done in {wall:.1f} s", flush=True)
    return RoundResult(
        name,
        len(targets),
        len(latencies),
        wall,
        latencies,
        # A retried job (Retryable error) is an outcome worth seeing, not a loss.
        Counter(outcome for outcome, _, _ in judged)
        + Counter({"retried": sum(n - 1 for n in seen.finished.tries.values())}),
        lost,
        sampler.peak_jobs,
        sampler.peak_kb / 1024,
        rss / 1024,
        cpu,
        busy / max(total, 1),
    )


def pulls(run: Running, label: str, count: int) -> list[Target]:
    """`count` fresh failing PRs spread over REPOS."""

    def one(n: int) -> Target:
        repo = REPOS[n % len(REPOS)]
        number, head = fresh_pull(run.sim, repo, f"{label}-{n}")
        return Target(repo, number, head, f"feature-{label}-{n}")

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        return list(pool.map(one, range(count)))


def issues(run: Running, label: str, count: int) -> list[Target]:
    """`count` fresh issues spread over REPOS."""

    def one(n: int) -> Target:
        repo = REPOS[n % len(REPOS)]
        return Target(repo, run.sim.create_issue(OWNER, repo, f"Question {label}-{n}"))

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        return list(pool.map(one, range(count)))


def fix_round(
    run: Running, name: str, label: str, count: int, cursor: LogCursor, tokens: dict[str, str]
) -> RoundResult:
    """`count` fixes at once on fresh PRs, closed afterwards (open PRs slow the simulator)."""
    targets = pulls(run, label, count)
    result = run_round(run, name, targets, f"@{run.sim.app.slug} fix this", cursor, tokens)
    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(lambda t: close_pull(run.sim, tokens[t.repo], t.repo, t.number), targets))
    return result


def help_round(
    run: Running, name: str, label: str, count: int, cursor: LogCursor, tokens: dict[str, str]
) -> RoundResult:
    targets = issues(run, label, count)
    return run_round(run, name, targets, f"@{run.sim.app.slug} help", cursor, tokens)


def merged(name: str, results: Sequence[RoundResult]) -> RoundResult:
    """Runs one after another as one row: walls add up, peaks are the highest."""
    return RoundResult(
        name,
        sum(r.jobs for r in results),
        sum(r.finished for r in results),
        sum(r.wall_s for r in results),
        [s for r in results for s in r.latencies],
        sum((r.outcomes for r in results), Counter()),
        [why for r in results for why in r.lost],
        max(r.peak_jobs for r in results),
        max(r.peak_tree_mb for r in results),
        results[-1].rss_mb,
        {k: sum(r.cpu.get(k, 0.0) for r in results) for k in results[0].cpu},
        sum(r.busy * r.wall_s for r in results) / max(sum(r.wall_s for r in results), 1e-9),
    )


def jobs_phase(run: Running) -> list[RoundResult]:
    """Phase 2: warm-up, the fix alone, 50 helps, a warm-up round of 50 fixes, then ROUNDS
    rounds of 50 fixes."""
    scope = {"contents": "read", "pull_requests": "write"}
    tokens = {repo: run.sim.installation_token(OWNER, repo, scope) for repo in REPOS}
    cursor = LogCursor(run.app.worker_log)
    warm = [
        fix_round(run, "warm-up fix", "warm", 1, cursor, tokens),
        help_round(run, "warm-up help", "warm", 1, cursor, tokens),
    ]
    alone = [fix_round(run, "alone", f"alone{n}", 1, cursor, tokens) for n in range(ALONE_RUNS)]
    rows = [merged("warm-up", warm), merged("fix alone", alone)]
    rows.append(help_round(run, f"help x{JOBS}", "help", JOBS, cursor, tokens))
    rows.append(fix_round(run, f"warm-up x{JOBS}", "r0", JOBS, cursor, tokens))
    for n in range(1, ROUNDS + 1):
        rows.append(fix_round(run, f"fix x{JOBS} #{n}", f"r{n}", JOBS, cursor, tokens))
    return rows


def per_job_cpu(row: RoundResult) -> str:
    shares = sorted(row.cpu.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {seconds / row.jobs:.2f}" for name, seconds in shares)


def report(rows: Sequence[RoundResult], burst_lost: int, sandbox: str, leftovers: int) -> None:
    print(
        f"phase 2: jobs ({sandbox} sandbox, one worker, AMBIENT_WORKER_MAX_JOBS={JOBS}, "
        f"{len(REPOS)} repositories, model answers at once)"
    )
    print(
        f"{'':14}{'jobs':>5}{'done':>5}{'wall s':>7}{'/min':>7}{'p50 s':>7}{'p99 s':>7}"
        f"{'max s':>7}{'CPU s':>6}{'flight':>7}{'tree MB':>8}{'RSS MB':>7}{'lost':>5}  outcomes"
    )
    for r in rows:
        lat = r.latencies or [float("nan")]
        outcomes = ", ".join(f"{k} {v}" for k, v in r.outcomes.most_common())
        print(
            f"{r.name:14}{r.jobs:>5}{r.finished:>5}{r.wall_s:>7.1f}{r.per_min:>7.1f}"
            f"{pct(lat, 50):>7.2f}{pct(lat, 99):>7.2f}{max(lat):>7.2f}"
            f"{sum(r.cpu.values()) / r.jobs:>6.2f}{r.peak_jobs:>7}"
            f"{r.peak_tree_mb:>8.0f}{r.rss_mb:>7.1f}{len(r.lost):>5}  {outcomes}"
        )
    for r in rows:
        for why in r.lost:
            print(f"  lost in {r.name}: {why}")
    first, alone, helps, warm, *soak = rows
    per_min = sum(r.finished for r in soak) / sum(r.wall_s for r in soak) * 60
    loaded = [s for r in soak for s in r.latencies]
    serial = 60 / pct(alone.latencies, 50)
    cpu = sum(sum(r.cpu.values()) for r in soak) / sum(r.jobs for r in soak)
    print(
        f"CPU s per fix under load, by process: {per_job_cpu(soak[-1])}; alone: "
        f"{per_job_cpu(alone)}"
    )
    print(
        f"fix p50 under load / alone: {pct(loaded, 50) / pct(alone.latencies, 50):.1f}x "
        f"({pct(loaded, 50):.2f} s vs {pct(alone.latencies, 50):.2f} s)"
    )
    cores = os.cpu_count() or 1
    share = per_min / (cores * 60 / cpu)
    print(
        f"throughput: {per_min:.1f} fixes/min = {per_min / serial:.2f}x one at a time "
        f"({serial:.1f}/min); help x{JOBS} {helps.per_min:.0f}/min = "
        f"{helps.per_min / per_min:.0f}x the fixes (no model, no sandbox)"
    )
    busy = sum(r.busy for r in soak) / len(soak)
    print(
        f"at {cpu:.2f} CPU s a fix, {cores} idle cores allow {cores * 60 / cpu:.0f} fixes/min;"
        f" during the rounds the machine was {busy:.0%} busy, these processes {share:.0%} "
        f"(the rest is other work on the machine)"
    )
    growth = soak[-1].rss_mb - warm.rss_mb
    print(
        f"worker RSS (MB): {first.rss_mb:.1f} after the first jobs, {warm.rss_mb:.1f} after the"
        f" warm-up round of {JOBS}, then "
        + ", ".join(f"{r.rss_mb:.1f}" for r in soak)
        + f": {growth:+.1f} MB over {len(soak)} rounds ({growth / len(soak):+.2f} a round)"
    )
    print(f"temporary files left by Ambient's processes: {leftovers}")
    lost = burst_lost + sum(len(r.lost) for r in rows)
    print(f"jobs_per_min={per_min:.1f} rss_growth_mb={growth:.1f} lost={lost}")


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The burst holds thousands of connections open at once, on both sides (children inherit).
    wanted = 1 << 16 if hard == resource.RLIM_INFINITY else hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    sandbox = os.environ.get("AMBIENT_SANDBOX", "bwrap")
    if sandbox == "docker":
        sandbox, note = choose_sandbox()
        print(f"sandbox: {note}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    concurrency = {"AMBIENT_WORKER_MAX_JOBS": str(JOBS)}
    with running_app("ambient-load-", sandbox, REPOS, concurrency) as run:
        burst_lost = burst_phase(run)
        rows = jobs_phase(run)
        leftovers = sum(1 for _ in run.tmp.iterdir())
    report(rows, burst_lost, sandbox, leftovers)


if __name__ == "__main__":
    main()
